"""Per-login risk: how likely a login's attributes are for its account."""
