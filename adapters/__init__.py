"""Adapters to the outside: PostgreSQL tools, object storage, encryption, hooks."""
