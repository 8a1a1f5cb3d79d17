"""Object storage behind one interface: S3 (and S3-compatible endpoints) and a local folder."""

from __future__ import annotations

from adapters.storage.base import ObjectInfo, PutResult, Storage
from core.config import StorageConfig

__all__ = ["ObjectInfo", "PutResult", "Storage", "open_storage"]


def open_storage(cfg: StorageConfig) -> Storage:
    """The provider for ``cfg.url``: ``s3://bucket/prefix`` or ``file:///path``."""
    if cfg.url.startswith("file://"):
        from adapters.storage.local import LocalStorage

        return LocalStorage(cfg)
    from adapters.storage.s3 import S3Storage

    return S3Storage(cfg)
