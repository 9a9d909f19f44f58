"""Use cases, one module per feature. Services never commit: the request or task does."""
