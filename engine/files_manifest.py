"""The record of the application's files in the backup bucket: one manifest per sync that changed something.

Why the bucket holds the record and not the bot's SQLite file: a bot that lost its state
(a new host, a wiped volume) must not copy every certificate and invoice again, and a
restore must work from any machine with the key. So each sync reads the newest manifest
under ``files/runs/`` to learn what it already has, and writes a new one listing *every*
file the source held then — unchanged files point at the copy an earlier run made. A
manifest is therefore a complete picture of the source at that moment, and "as it was at
a date" is simply the newest manifest written before it.

Layout, keys relative to the ``[storage]`` prefix::

    files/runs/{YYYY}/{MM}/files-{YYYYmmddTHHMMSSZ}.json      the manifest of one sync
    files/data/files-{YYYYmmddTHHMMSSZ}/{path}.zst.enc         a file copied by that sync
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from adapters.storage import Storage
from core.errors import BackupbotError, IntegrityError
from core.i18n import _

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
RUNS_PREFIX = "files/runs/"
DATA_PREFIX = "files/data/"
DATA_SUFFIX = ".zst.enc"
RUN_RE = re.compile(r"(?:^|/)(?P<id>files-(?P<stamp>\d{8}T\d{6}Z))\.json$")


def run_id(created_at: datetime) -> str:
    return f"files-{created_at.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def run_key(rid: str) -> str:
    stamp = stamp_of(rid)
    return f"{RUNS_PREFIX}{stamp:%Y}/{stamp:%m}/{rid}.json"


def data_key(rid: str, path: str) -> str:
    return f"{DATA_PREFIX}{rid}/{path}{DATA_SUFFIX}"


def stamp_of(rid: str) -> datetime:
    return datetime.strptime(rid.removeprefix("files-"), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


@dataclass
class FileEntry:
    """One file of the source as a sync saw it, and where its encrypted copy is."""

    path: str  # key relative to [files] source_url
    size: int  # plain bytes
    etag: str  # the source's ETag when it was copied: what the next sync compares
    last_modified: str  # at the source, ISO 8601
    sha256: str  # of the plain content
    stored_key: str  # the encrypted copy, relative to the [storage] prefix
    stored_bytes: int
    stored_sha256: str
    key_id: str  # the encryption key the copy needs
    copied_in: str  # id of the sync that made the copy


@dataclass
class FilesRun:
    """A manifest: every file at the source when the sync ran."""

    id: str
    created_at: datetime
    source: str  # where the files came from, nothing secret
    prefixes: list[str]
    files: list[FileEntry]
    copied: int = 0
    unchanged: int = 0
    copied_bytes: int = 0
    gone: list[str] = field(default_factory=list)  # in the previous run, no longer at the source
    errors: list[dict[str, str]] = field(default_factory=list)  # files that could not be copied
    previous: str | None = None
    duration_seconds: float = 0.0
    format_version: int = FORMAT_VERSION

    @property
    def key(self) -> str:
        return run_key(self.id)

    def entry(self, path: str) -> FileEntry | None:
        return next((f for f in self.files if f.path == path), None)

    def to_json(self) -> bytes:
        data = asdict(self)
        data["created_at"] = self.created_at.astimezone(UTC).isoformat()
        return (json.dumps(data, indent=1, sort_keys=True) + "\n").encode()

    @classmethod
    def from_json(cls, raw: bytes, where: str) -> FilesRun:
        try:
            data = json.loads(raw)
            known = {f.name for f in fields(cls)}
            kwargs = {k: v for k, v in data.items() if k in known}
            entry_fields = {f.name for f in fields(FileEntry)}
            kwargs["files"] = [
                FileEntry(**{k: v for k, v in e.items() if k in entry_fields}) for e in data["files"]
            ]
            created = datetime.fromisoformat(str(kwargs["created_at"]))
            kwargs["created_at"] = created if created.tzinfo else created.replace(tzinfo=UTC)
            return cls(**kwargs)
        except (ValueError, KeyError, TypeError) as exc:
            raise IntegrityError(
                _("{where} is not a valid files manifest").format(where=where),
                detail=str(exc),
                hint=_("Someone edited or truncated it; use an earlier date with --at."),
            ) from None


def list_run_ids(storage: Storage) -> list[str]:
    """Every files manifest in the bucket, oldest first (the ids sort by time)."""
    ids = []
    for info in storage.list(RUNS_PREFIX):
        match = RUN_RE.search(info.key)
        if match and info.key == run_key(match["id"]):
            ids.append(match["id"])
    return sorted(ids)


def load_run(storage: Storage, rid: str) -> FilesRun:
    return FilesRun.from_json(storage.get_bytes(run_key(rid)), _("files manifest {id}").format(id=rid))


def run_at(storage: Storage, at: datetime | None = None, *, skip_damaged: bool = False) -> FilesRun | None:
    """The newest manifest written at or before ``at`` (default: now); None if there is none.

    ``skip_damaged``: a sync falls back to an older manifest rather than stop for good
    because the newest one was damaged (at worst it copies some files again).
    """
    ids = [rid for rid in list_run_ids(storage) if at is None or stamp_of(rid) <= at]
    for rid in reversed(ids):
        try:
            return load_run(storage, rid)
        except BackupbotError as err:
            if not skip_damaged:
                raise
            log.warning("skipping files manifest %s: %s", rid, err.message)
    return None


def as_dict(entry: FileEntry) -> dict[str, Any]:
    return asdict(entry)
