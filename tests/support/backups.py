"""Backdated backups written straight into storage, for retention tests that span weeks.

Forty nightly pg_dumps would make a test take minutes; what retention and prune look at
is the manifest (id, kind, created_at) and that the object beside it exists. So these
helpers write a real manifest (engine.manifest) and a small placeholder object through
the real storage adapter; the tests also take a few real dumps with engine.dump.
"""

from __future__ import annotations

from datetime import UTC, datetime

from adapters.storage import Storage, open_storage
from core.config import Config
from engine.manifest import ID_RE, MANIFEST_SUFFIX, Manifest, backup_id, object_key


def write_backup(
    cfg: Config, database: str, kind: str, created_at: datetime, storage: Storage | None = None
) -> Manifest:
    storage = storage or open_storage(cfg.storage)
    created_at = created_at.astimezone(UTC)
    bid = backup_id(database, created_at, kind)
    key = object_key(database, created_at, bid)
    payload = f"placeholder object for {bid}".encode()
    storage.put_bytes(key, payload)
    manifest = Manifest(
        id=bid,
        database=database,
        kind=kind,
        created_at=created_at,
        key=key,
        requested_by="test",
        stored_bytes=len(payload),
    )
    storage.put_bytes(manifest.manifest_key, manifest.to_json(), "application/json")
    return manifest


def without_nonce(bid: str) -> str:
    """``prod-20260201T030030Z-daily`` of ``prod-20260201T030030Z-daily-7k2q``: the part a test can predict."""
    match = ID_RE.match(bid)
    assert match, bid
    return bid[: -len(match["nonce"]) - 1] if match["nonce"] else bid


def stored_ids(cfg: Config, database: str, storage: Storage | None = None) -> set[str]:
    """Ids whose manifest AND object are both in storage (what a user checks in the bucket)."""
    storage = storage or open_storage(cfg.storage)
    keys = {o.key for o in storage.list(f"db/{database}/")}
    out = set()
    for key in keys:
        if key.endswith(MANIFEST_SUFFIX):
            bid = key.rsplit("/", 1)[1][: -len(MANIFEST_SUFFIX)]
            assert key[: -len(MANIFEST_SUFFIX)] + ".dump.zst.enc" in keys, f"manifest without object: {key}"
            out.add(bid)
    return out


def object_ids(cfg: Config, database: str, storage: Storage | None = None) -> set[str]:
    """Ids that still have an object, whether or not their manifest survived."""
    storage = storage or open_storage(cfg.storage)
    return {
        o.key.rsplit("/", 1)[1].removesuffix(".dump.zst.enc")
        for o in storage.list(f"db/{database}/")
        if o.key.endswith(".dump.zst.enc")
    }
