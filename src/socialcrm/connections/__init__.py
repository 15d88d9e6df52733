"""Connected social accounts (layer L1): connecting (``connecting``: OAuth, account choices,
app passwords), app credentials and accounts (``service``), the token life cycle on the worker
side (``tokens``: ``with_account``, refresh, revoke), and the ``gateway`` from synchronous code
to the adapters. May import ``core`` and the L0 packages (``providers``, ``tenancy``)."""
