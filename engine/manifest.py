"""The manifest: the JSON document beside each dump whose existence *is* the backup.

Why a manifest at all, written last: an object without one is an interrupted upload and is
ignored; with one, everything needed to trust and restore the object (its sha256, which
key it needs, which server and migration it came from) travels with it in the bucket, so a
bot that lost its local state rebuilds its catalog from the bucket alone.
"""

from __future__ import annotations

import json
import re
import secrets
import string
from dataclasses import MISSING, asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from core.errors import IntegrityError
from core.i18n import _

FORMAT_VERSION = 2  # 2: the object's chunks authenticate the id, database and object key
# ``{database}-{stamp}-{kind}`` plus, since format 2, ``-{nonce}``: four characters, the first a
# digit, so it can never be read as part of a kind (kinds are letters and '-').
ID_RE = re.compile(
    r"^(?P<database>[a-z0-9][a-z0-9_-]*)-(?P<stamp>\d{8}T\d{6}Z)-(?P<kind>[a-z][a-z-]*)"
    r"(?:-(?P<nonce>[0-9][0-9a-z]{3}))?$"
)
OBJECT_SUFFIX = ".dump.zst.enc"
MANIFEST_SUFFIX = ".manifest.json"
_NONCE_REST = string.digits + string.ascii_lowercase


def new_nonce() -> str:
    """Four random characters that keep two dumps started in the same second apart.

    Why random rather than a sub-second stamp: two processes (parallel deploy pipelines, a CLI
    and the bot) can read the same clock; 10 x 36^3 choices per database, kind and second make
    a clash negligible, and the conditional write of the object and manifest catches the rest.
    """
    return secrets.choice(string.digits) + "".join(secrets.choice(_NONCE_REST) for _i in range(3))


def backup_id(database: str, created_at: datetime, kind: str, nonce: str = "") -> str:
    base = f"{database}-{created_at.astimezone(UTC):%Y%m%dT%H%M%SZ}-{kind}"
    return f"{base}-{nonce}" if nonce else base


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
        if not isinstance(data, dict):
            raise TypeError(f"expected a JSON object, got {type(data).__name__}")
        kwargs: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in data:
                if f.default is MISSING and f.default_factory is MISSING:
                    raise KeyError(f.name)
                continue
            value = data[f.name]
            _check_type(f.name, value, _expected_type(f))
            kwargs[f.name] = value
        created = datetime.fromisoformat(kwargs["created_at"])
        kwargs["created_at"] = created if created.tzinfo else created.replace(tzinfo=UTC)
        return cls(**kwargs)

    @classmethod
    def from_json(cls, raw: bytes, where: str = "manifest") -> Manifest:
        """Parse and check a stored manifest; ``where`` is the key it was read from, if any.

        Why the location check: the manifest is what ``decrypt`` and restore trust, so one copied
        over another backup's path must not pass for that backup. Its id, database and object key
        must be the ones its own key names.
        """
        try:
            data = json.loads(raw)
            manifest = cls.from_dict(data)
        except (ValueError, KeyError, TypeError) as exc:
            raise IntegrityError(
                _("{where} is not a valid backup manifest").format(where=where),
                detail=f"{type(exc).__name__}: {exc}",
                hint=_("Someone edited or truncated it; the backup it describes cannot be trusted."),
            ) from None
        if where.endswith(MANIFEST_SUFFIX):
            manifest.check_location(where)
        return manifest

    def check_location(self, manifest_key: str) -> None:
        """Raise unless this manifest belongs at ``manifest_key`` (see ``from_json``)."""
        problems = []
        match = ID_RE.match(self.id)
        if not match or match["database"] != self.database:
            problems.append(
                _("its id {id} does not name its database '{db}'").format(id=self.id, db=self.database)
            )
        if self.key != f"db/{self.database}/{self.key.split('/', 2)[-1]}":
            problems.append(
                _("its object key {key} is not under {prefix}").format(
                    key=self.key, prefix=f"db/{self.database}/"
                )
            )
        if not self.key.endswith("/" + self.id + OBJECT_SUFFIX):
            problems.append(
                _("its object key {key} is not named after its id {id}").format(key=self.key, id=self.id)
            )
        if manifest_key_for(self.key) != manifest_key:
            problems.append(_("it describes {id} (object {key})").format(id=self.id, key=self.key))
        if problems:
            raise IntegrityError(
                _("manifest {key} does not belong at its path").format(key=manifest_key),
                detail=_("{problems}. A manifest was copied or moved over another backup's.").format(
                    problems="; ".join(problems)
                ),
                hint=_("Do not use it; pick another backup with `backupbot list` (or `/backup list`)."),
            )


def _expected_type(f: Any) -> tuple[type, ...] | None:
    """What JSON type a field takes, from its default; None when anything (or null) goes."""
    if f.name == "created_at" or (f.default is MISSING and f.default_factory is MISSING):
        return (str,)
    default = f.default_factory() if f.default is MISSING else f.default
    if default is None:
        return None
    if isinstance(default, bool):
        return (bool,)
    if isinstance(default, float):
        return (int, float)
    return (type(default),)


def _check_type(name: str, value: Any, expected: tuple[type, ...] | None) -> None:
    if expected is None:
        return
    if isinstance(value, bool) and bool not in expected:
        raise TypeError(f"{name} is a bool, expected {expected[0].__name__}")
    if not isinstance(value, expected):
        raise TypeError(f"{name} is a {type(value).__name__}, expected {expected[0].__name__}")
