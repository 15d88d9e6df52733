"""Email intake, signature extraction and contact enrichment suggestions."""
