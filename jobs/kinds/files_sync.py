"""The ``files_sync`` job; it lives with its sibling in ``jobs.kinds.files``."""

from jobs.kinds.files import SYNC as KIND

__all__ = ["KIND"]
