"""Thousands of backups in a bucket in seconds: real manifests, tiny placeholder objects.

What the catalog reads is the manifest (and that the object beside it exists), so the
catalog tests and ``bench/bench_catalog.py`` write those straight into the bucket with
boto3, several at once, instead of taking real dumps. The manifests are the real format
(``engine.manifest.Manifest``), at the real keys.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from engine.manifest import Manifest, backup_id, object_key


def fake_manifest(
    database: str, created_at: datetime, kind: str = "pre-deploy", reason: str = ""
) -> Manifest:
    created_at = created_at.astimezone(UTC)
    bid = backup_id(database, created_at, kind)
    return Manifest(
        id=bid,
        database=database,
        kind=kind,
        created_at=created_at,
        key=object_key(database, created_at, bid),
        requested_by="ci",
        reason=reason or f"deploy of {bid}",
        server_version="15.0",
        pg_dump_version="15.0",
        source=f"app@db.internal:5432/{database}",
        dump_bytes=1000,
        stored_bytes=len(bid),
        sha256="0" * 64,
        compression={"algorithm": "zstd", "level": 3},
        encryption={"algorithm": "AES-256-GCM", "key_id": "k1", "chunk_size": 1048576},
        table_count=12,
    )


def history(
    databases: Sequence[str], per_database: int, newest: datetime, every: timedelta
) -> list[Manifest]:
    """``per_database`` backups of each database, one every ``every`` going back from ``newest``."""
    out = []
    for i, database in enumerate(databases):
        for k in range(per_database):
            # Databases a few seconds apart, so no two backups share an id.
            out.append(fake_manifest(database, newest - k * every - timedelta(seconds=i)))
    return out


def put_backups(
    client: Any, bucket: str, prefix: str, manifests: Iterable[Manifest], workers: int = 8
) -> int:
    """Writes each manifest and a placeholder object under ``prefix`` (``backups/``); returns how many."""

    def put(m: Manifest) -> None:
        client.put_object(Bucket=bucket, Key=prefix + m.key, Body=m.id.encode())
        client.put_object(
            Bucket=bucket, Key=prefix + m.manifest_key, Body=m.to_json(), ContentType="application/json"
        )

    todo = list(manifests)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(put, todo))
    return len(todo)
