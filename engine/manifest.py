"""The manifest: the JSON document beside each dump whose existence *is* the backup.

Why a manifest at all, written last: an object without one is an interrupted upload and is
ignored; with one, everything needed to trust and restore the object (its sha256, which
key it needs, which server and migration it came from) travels with it in the bucket, so a
bot that lost its local state rebuilds its catalog from the bucket alone.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from core.errors import IntegrityError

FORMAT_VERSION = 1
ID_RE = re.compile(r"^(?P<database>[a-z0-9][a-z0-9_-]*)-(?P<stamp>\d{8}T\d{6}Z)-(?P<kind>[a-z][a-z-]*)$")
OBJECT_SUFFIX = ".dump.zst.enc"
MANIFEST_SUFFIX = ".manifest.json"


def backup_id(database: str, created_at: datetime, kind: str) -> str:
    return f"{database}-{created_at.astimezone(UTC):%Y%m%dT%H%M%SZ}-{kind}"


def object_key(database: str, created_at: datetime, bid: str) -> str:
    """``db/{database}/{YYYY}/{MM}/{id}.dump.zst.enc`` — one folder per month keeps listings short."""
    ts = created_at.astimezone(UTC)
    return f"db/{database}/{ts:%Y}/{ts:%m}/{bid}{OBJECT_SUFFIX}"


def manifest_key_for(object_key_: str) -> str:
    return object_key_[: -len(OBJECT_SUFFIX)] + MANIFEST_SUFFIX


def manifest_key_from_id(bid: str) -> str | None:
    """Where the manifest of a full backup id lives, without listing; None if it is not an id."""
    match = ID_RE.match(bid)
    if not match:
        return None
    stamp = datetime.strptime(match["stamp"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return manifest_key_for(object_key(match["database"], stamp, bid))


@dataclass
class Manifest:
    id: str
    database: str
    kind: str
    created_at: datetime
    key: str  # object key, relative to the storage prefix
    requested_by: str = "cli"
    reason: str = ""
    git_sha: str | None = None
    server_version: str = ""
    pg_dump_version: str = ""
    source: str = ""  # user@host:port/dbname, never a password
    dump_bytes: int = 0  # pg_dump's plain custom-format output
    stored_bytes: int = 0  # the encrypted object in the bucket
    sha256: str = ""  # of the stored object
    compression: dict[str, Any] = field(default_factory=dict)
    encryption: dict[str, Any] = field(default_factory=dict)
    table_count: int = 0
    migration_head: dict[str, Any] | None = None
    duration_seconds: float = 0.0
    storage: str = ""
    globals_key: str = ""  # roles and memberships beside the dump (globals = true), if they could be read
    globals_note: str = ""  # why they are missing when globals = true
    # What the database held in the dump's own snapshot (engine.contents): tables with their
    # row counts and counts of each object kind; None in manifests written before it existed.
    contents: dict[str, Any] | None = None
    format_version: int = FORMAT_VERSION

    @property
    def manifest_key(self) -> str:
        return manifest_key_for(self.key)

    @property
    def size(self) -> int:
        return self.stored_bytes

    @property
    def key_id(self) -> str:
        return str(self.encryption.get("key_id", ""))

    def age_seconds(self, now: datetime | None = None) -> float:
        return ((now or datetime.now(UTC)) - self.created_at).total_seconds()

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["created_at"] = self.created_at.astimezone(UTC).isoformat()
        data["manifest_key"] = self.manifest_key
        return data

    def to_json(self) -> bytes:
        return (json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        created = datetime.fromisoformat(str(kwargs["created_at"]))
        kwargs["created_at"] = created if created.tzinfo else created.replace(tzinfo=UTC)
        return cls(**kwargs)

    @classmethod
    def from_json(cls, raw: bytes, where: str = "manifest") -> Manifest:
        try:
            data = json.loads(raw)
            return cls.from_dict(data)
        except (ValueError, KeyError, TypeError) as exc:
            raise IntegrityError(
                f"{where} is not a valid backup manifest",
                detail=str(exc),
                hint="Someone edited or truncated it; the backup it describes cannot be trusted.",
            ) from None
