"""The ``files_verify`` job; it lives with its sibling in ``jobs.kinds.files``."""

from jobs.kinds.files import VERIFY as KIND

__all__ = ["KIND"]
