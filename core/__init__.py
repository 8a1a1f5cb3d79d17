"""Shared ground for every layer: configuration, user-facing errors, secret redaction."""
