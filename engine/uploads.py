"""Uploads that were started and never finished, and objects left without a manifest: found
and removed by ``prune``.

Why only those older than a day: an open multipart upload may belong to a dump that is
running right now in another process (a deploy pipeline, the bot); no dump runs for a day,
so one that old is a leftover — of a process that was killed, or whose abort could not
reach the storage. A dump's own failure path and the bot's recovery abort their own upload
at once; this is the sweep for what they could not. Parts of an open upload are billed.

Objects without a manifest are the same kind of leftover one step later: a dump whose
object was stored but whose manifest could not be written (and whose own clean-up could not
delete the object), or a delete interrupted between the manifest and the object. They are
never listed as backups (a backup exists iff its manifest does) but they are billed too;
the same day of grace keeps a dump that is writing its manifest right now out of reach.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from adapters.storage import Storage, open_storage
from adapters.storage.base import ObjectInfo, OpenUpload
from core.config import Config
from core.errors import BackupbotError
from core.redact import redact
from engine.manifest import MANIFEST_SUFFIX, OBJECT_SUFFIX

STALE_AFTER = timedelta(days=1)
WOULD_ABORT, ABORTED, GONE, FAILED = "would abort", "aborted", "gone", "FAILED"


@dataclass
class StaleUpload:
    upload: OpenUpload
    action: str = WOULD_ABORT
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.upload.key,
            "upload_id": self.upload.upload_id,
            "started": self.upload.started.astimezone(UTC).isoformat(),
            "action": self.action,
            "error": self.error,
        }


def stale_uploads(
    cfg: Config,
    database: str | None = None,
    now: datetime | None = None,
    older_than: timedelta = STALE_AFTER,
    storage: Storage | None = None,
) -> list[StaleUpload]:
    """Open uploads of backups (of ``database``) started more than ``older_than`` ago, oldest first."""
    storage = storage or open_storage(cfg.storage)
    cutoff = (now or datetime.now(UTC)) - older_than
    prefix = f"db/{database}/" if database else "db/"
    found = [StaleUpload(u) for u in storage.list_uploads(prefix) if u.started <= cutoff]
    return sorted(found, key=lambda s: s.upload.started)


def abort_stale(cfg: Config, stale: list[StaleUpload], storage: Storage | None = None) -> list[StaleUpload]:
    """Abort each; a failure is recorded on its row (and the rest still tried), never raised."""
    storage = storage or open_storage(cfg.storage)
    for item in stale:
        try:
            item.action = ABORTED if storage.abort_upload(item.upload.key, item.upload.upload_id) else GONE
        except BackupbotError as err:
            item.action, item.error = FAILED, err.message
    return stale


# What a backup leaves beside its manifest (engine.globals_dump, engine.verify_record).
LEFTOVER_SUFFIXES = (OBJECT_SUFFIX, ".globals.sql.enc", ".verify.json")
WOULD_DELETE, DELETED = "would delete", "deleted"


@dataclass
class Orphan:
    """An object of a backup whose manifest does not exist: not a backup, only billed storage."""

    key: str
    size: int
    last_modified: datetime
    action: str = WOULD_DELETE  # would delete | deleted | FAILED
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "size": self.size,
            "last_modified": self.last_modified.astimezone(UTC).isoformat(),
            "action": self.action,
            "error": self.error,
        }


def orphans(listed: Iterable[ObjectInfo], now: datetime, older_than: timedelta = STALE_AFTER) -> list[Orphan]:
    """The objects of ``listed`` (one listing, manifests included) that have no manifest beside
    them and were written more than ``older_than`` before ``now``, oldest first."""
    objects = list(listed)
    manifests = {o.key for o in objects if o.key.endswith(MANIFEST_SUFFIX)}
    cutoff = now - older_than
    found = []
    for o in objects:
        suffix = next((s for s in LEFTOVER_SUFFIXES if o.key.endswith(s)), None)
        if suffix is None or o.key.removesuffix(suffix) + MANIFEST_SUFFIX in manifests:
            continue
        if o.last_modified.astimezone(UTC) <= cutoff:
            found.append(Orphan(o.key, o.size, o.last_modified))
    return sorted(found, key=lambda x: (x.last_modified, x.key))


def delete_orphans(storage: Storage, found: list[Orphan]) -> list[Orphan]:
    """Delete each (in batches); a failure is recorded on its row, never raised."""
    if not found:
        return found
    try:
        failed = storage.delete_many([o.key for o in found])
    except BackupbotError as err:
        failed = {o.key: err.message for o in found}
    for o in found:
        if o.key in failed:
            o.action, o.error = FAILED, redact(failed[o.key])
        else:
            o.action = DELETED
    return found
