"""Uploads that were started and never finished: found and removed by ``prune``.

Why only those older than a day: an open multipart upload may belong to a dump that is
running right now in another process (a deploy pipeline, the bot); no dump runs for a day,
so one that old is a leftover — of a process that was killed, or whose abort could not
reach the storage. A dump's own failure path and the bot's recovery abort their own upload
at once; this is the sweep for what they could not. Parts of an open upload are billed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from adapters.storage import Storage, open_storage
from adapters.storage.base import OpenUpload
from core.config import Config
from core.errors import BackupbotError

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
