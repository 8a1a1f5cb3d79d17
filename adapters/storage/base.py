"""The one interface every storage provider implements; keys are relative to the configured prefix.

Why an interface of our own instead of handing boto3 around: the engine must behave the same
on S3 and on a local folder (the embedded default), and the guarantees that matter — an
upload is either complete or absent, its sha256 is known without re-reading it — are
properties of ``put_stream`` that every provider has to keep.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.errors import StorageError
from core.i18n import N_, _

# Called once a multipart upload (or a local temp file) exists, with (key, upload id), so a
# job can record exactly which leftover is its own should its process die.
UploadStarted = Callable[[str, str], None]


# What a request was doing, as an infinitive phrase that completes the sentences of
# ``s3_errors.storage_error`` and ``LocalStorage._error``
# ("storage refused to " + "read KEY in STORAGE"). The dict keys are what callers pass.
ACTIONS = {
    "read": N_("read {key} in {storage}"),
    "write": N_("write {key} in {storage}"),
    "upload": N_("upload {key} in {storage}"),
    "start the upload of": N_("start the upload of {key} in {storage}"),
    "complete the upload of": N_("complete the upload of {key} in {storage}"),
    "abort the upload of": N_("abort the upload of {key} in {storage}"),
    "remove the partial upload of": N_("remove the partial upload of {key} in {storage}"),
    "list open uploads under": N_("list open uploads under {key} in {storage}"),
    "list": N_("list {key} in {storage}"),
    "check": N_("check {key} in {storage}"),
    "delete": N_("delete {key} in {storage}"),
    "create": N_("create {key} in {storage}"),
}


def describe_action(action: str, key: str, storage: str) -> str:
    """``read backups/x in s3://b/`` in the reader's language; ``key`` "" is the bucket itself."""
    phrase = ACTIONS.get(action)
    shown = key or _("(bucket)")
    if phrase is None:  # an action nobody listed: still a readable phrase, in English
        return f"{action} {shown} in {storage}"
    return _(phrase).format(key=shown, storage=storage)


class ObjectExistsError(StorageError):
    """A create-only write found the key taken: a stored backup is never overwritten."""


@dataclass(frozen=True)
class OpenUpload:
    """An upload that was started and neither completed nor aborted."""

    key: str
    upload_id: str
    started: datetime


@dataclass(frozen=True)
class PutResult:
    size: int
    sha256: str


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    last_modified: datetime
    # Changes whenever the object is rewritten (S3's ETag; inode, mtime and size for a folder),
    # so the catalog can trust a cached manifest whose etag the listing repeats. Empty = unknown.
    etag: str = ""


class Storage(abc.ABC):
    """A bucket (or folder) plus prefix. Every write is all-or-nothing."""

    @abc.abstractmethod
    def put_stream(
        self,
        key: str,
        chunks: Iterable[bytes],
        content_type: str = "application/octet-stream",
        *,
        create_only: bool = False,
        on_started: UploadStarted | None = None,
    ) -> PutResult:
        """Upload an iterable of unknown length; any error (also from ``chunks``) leaves nothing behind.

        With ``create_only=True`` the write fails with ``ObjectExistsError`` if ``key`` exists.
        If cleaning up after an error fails too, the error carries ``upload_left`` (a sentence
        saying what is left and how to remove it).
        """

    @abc.abstractmethod
    def put_bytes(
        self,
        key: str,
        data: bytes,
        content_type: str = "application/octet-stream",
        *,
        create_only: bool = False,
    ) -> None: ...

    @abc.abstractmethod
    def get_stream(self, key: str) -> Iterator[bytes]: ...

    def get_bytes(self, key: str) -> bytes:
        return b"".join(self.get_stream(key))

    @abc.abstractmethod
    def list(self, prefix: str = "") -> Iterator[ObjectInfo]: ...

    def list_dirs(self, prefix: str) -> list[str]:
        """The "folders" right under ``prefix`` (which ends with ``/``), each ending with ``/``, sorted.

        Lets the catalog walk ``db/{database}/{YYYY}/{MM}/`` newest first and stop early
        instead of listing every key of a database. Providers answer it without listing
        the keys below (S3's delimiter); this fallback is correct, not cheap.
        """
        dirs = set()
        for o in self.list(prefix):
            head, slash, _rest = o.key[len(prefix) :].partition("/")
            if slash:
                dirs.add(f"{prefix}{head}/")
        return sorted(dirs)

    @abc.abstractmethod
    def delete(self, key: str) -> None: ...

    def delete_many(self, keys: Sequence[str]) -> dict[str, str]:
        """Delete ``keys``; returns the ones that could not be deleted, each with why.

        A failure of one key does not stop the others. Providers batch (S3: 1,000 keys a
        request); this fallback deletes one by one.
        """
        from core.errors import BackupbotError

        failed: dict[str, str] = {}
        for key in keys:
            try:
                self.delete(key)
            except BackupbotError as err:
                failed[key] = err.message
        return failed

    def object_lock_possible(self) -> bool:
        """Whether any object here can carry an Object Lock retention, so prune must look.

        True unless the provider knows better: a wrong True costs a HEAD per deletion
        candidate, a wrong False would half-delete a locked backup.
        """
        return True

    @abc.abstractmethod
    def exists(self, key: str) -> bool: ...

    @abc.abstractmethod
    def head(self, key: str) -> dict[str, Any]:
        """At least ``size`` and ``last_modified``; providers add what they know (e.g. SSE)."""

    @abc.abstractmethod
    def check_writable(self) -> None:
        """Write and delete a probe object, so a dump never starts against a bucket it cannot fill."""

    @abc.abstractmethod
    def list_uploads(self, prefix: str = "") -> list[OpenUpload]:
        """Uploads under ``prefix`` that were started and never completed nor aborted."""

    @abc.abstractmethod
    def abort_upload(self, key: str, upload_id: str) -> bool:
        """Remove one upload's leftovers; False if none was there (already completed or aborted)."""

    def abort_incomplete(self, prefix: str = "") -> int:
        """Remove every leftover under ``prefix`` — only for a prefix no live process writes to."""
        count = 0
        for upload in self.list_uploads(prefix):
            if self.abort_upload(upload.key, upload.upload_id):
                count += 1
        return count

    @abc.abstractmethod
    def describe(self) -> str:
        """Where this storage points, with nothing secret in it."""
