"""The one interface every storage provider implements; keys are relative to the configured prefix.

Why an interface of our own instead of handing boto3 around: the engine must behave the same
on S3 and on a local folder (the embedded default), and the guarantees that matter — an
upload is either complete or absent, its sha256 is known without re-reading it — are
properties of ``put_stream`` that every provider has to keep.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.errors import StorageError


class ObjectExistsError(StorageError):
    """A create-only write found an object already at its key; nothing was replaced."""


@dataclass(frozen=True)
class PutResult:
    size: int
    sha256: str


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    last_modified: datetime
    etag: str = ""  # what changes when the content does (S3's ETag; size+mtime for a folder)


class Storage(abc.ABC):
    """A bucket (or folder) plus prefix. Every write is all-or-nothing."""

    @abc.abstractmethod
    def put_stream(
        self,
        key: str,
        chunks: Iterable[bytes],
        content_type: str = "application/octet-stream",
        create_only: bool = False,
    ) -> PutResult:
        """Upload an iterable of unknown length; any error (also from ``chunks``) leaves nothing behind.

        ``create_only``: refuse instead of replacing an object already at ``key`` (backups and
        their manifests are never overwritten; a pipeline's credential may not be able to).
        """

    @abc.abstractmethod
    def put_bytes(
        self, key: str, data: bytes, content_type: str = "application/octet-stream", create_only: bool = False
    ) -> None: ...

    @abc.abstractmethod
    def get_stream(self, key: str) -> Iterator[bytes]: ...

    def get_bytes(self, key: str) -> bytes:
        return b"".join(self.get_stream(key))

    @abc.abstractmethod
    def list(self, prefix: str = "") -> Iterator[ObjectInfo]: ...

    @abc.abstractmethod
    def delete(self, key: str) -> None: ...

    @abc.abstractmethod
    def exists(self, key: str) -> bool: ...

    @abc.abstractmethod
    def head(self, key: str) -> dict[str, Any]:
        """At least ``size`` and ``last_modified``; providers add what they know (e.g. SSE)."""

    @abc.abstractmethod
    def check_writable(self) -> None:
        """Prove the bucket takes a write, so a dump never starts against a bucket it cannot fill."""

    @abc.abstractmethod
    def abort_incomplete(self, prefix: str = "") -> int:
        """Remove leftovers of interrupted uploads under ``prefix``; returns how many."""

    @abc.abstractmethod
    def describe(self) -> str:
        """Where this storage points, with nothing secret in it."""
