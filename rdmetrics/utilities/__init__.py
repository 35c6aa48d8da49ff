"""Shared helpers: input validation, optional-dependency flags, plotting glue."""
