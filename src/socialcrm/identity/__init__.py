"""Identity resolution: social handles and platform user ids to known customers."""
