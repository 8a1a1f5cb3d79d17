"""A manifest is believed only where it belongs: copied, retargeted or malformed ones are refused or skipped."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
import zstandard

from adapters.crypto import ALGORITHM_V1, Encryptor, load_keyring
from adapters.storage import open_storage
from engine.catalog import get_backup, list_backups
from engine.decrypt import iter_plain
from engine.manifest import Manifest, backup_id, object_key
from tests.conftest import ConfigWriter
from tests.engine.conftest import file_setup, run_cli


@pytest.fixture
def two(tmp_path: Path, write_config: ConfigWriter, pg_db: str, backup_key: str) -> tuple[dict, dict, Path]:
    setup = file_setup(write_config, tmp_path / "store", pg_db)
    a = json.loads(run_cli("--json", "dump", "--reason", "A", check=True).stdout)
    b = json.loads(run_cli("--json", "dump", "--reason", "B", check=True).stdout)
    assert setup.store is not None and a["id"] != b["id"]
    return a, b, setup.store


def test_manifest_copied_over_another_is_refused(tmp_path: Path, two: tuple[dict, dict, Path]) -> None:
    a, b, store = two
    (store / a["manifest_key"]).write_bytes((store / b["manifest_key"]).read_bytes())
    out = tmp_path / "a.dump"
    proc = run_cli("decrypt", a["id"], "-o", str(out))
    assert proc.returncode != 0 and not out.exists(), proc.stderr
    assert f"manifest {a['manifest_key']} does not belong at its path" in proc.stderr
    assert "Traceback" not in proc.stderr
    listed = run_cli("--json", "list", check=True)
    assert [m["id"] for m in json.loads(listed.stdout)] == [b["id"]]
    assert f"skipping unreadable manifest {a['manifest_key']}" in listed.stderr


def test_manifest_retargeted_with_the_object_fails_authentication(
    tmp_path: Path, two: tuple[dict, dict, Path]
) -> None:
    """B's object and manifest moved to A's place, the manifest edited to say A: the chunks still say B."""
    a, b, store = two
    edited = json.loads((store / b["manifest_key"]).read_text())
    edited.update(id=a["id"], key=a["key"], created_at=a["created_at"])
    (store / a["manifest_key"]).write_text(json.dumps(edited))
    (store / a["key"]).write_bytes((store / b["key"]).read_bytes())
    out = tmp_path / "a.dump"
    proc = run_cli("decrypt", a["id"], "-o", str(out))
    assert proc.returncode != 0 and not out.exists()
    assert f"backup {a['id']}: chunk 0 failed authentication" in proc.stderr


@pytest.mark.parametrize(
    "bad",
    [
        b"[]",
        b'"a string"',
        b'{"id": 5, "database": "app", "kind": "manual", "created_at": "2026-01-01T00:00:00+00:00", "key": "x"}',
        b'{"id": "app-20260101T000000Z-manual", "database": "app", "kind": "manual", '
        b'"created_at": 17, "key": "db/app/2026/01/app-20260101T000000Z-manual.dump.zst.enc"}',
        b'{"id": "app-20260101T000000Z-manual", "database": "app", "kind": "manual", '
        b'"created_at": "2026-01-01T00:00:00+00:00", "stored_bytes": "12", '
        b'"key": "db/app/2026/01/app-20260101T000000Z-manual.dump.zst.enc"}',
    ],
    ids=["list", "string", "int-id", "int-created", "str-size"],
)
def test_wrong_shape_manifest_is_skipped_with_a_warning(two: tuple[dict, dict, Path], bad: bytes) -> None:
    a, b, store = two
    bad_key = "db/app/2026/01/app-20260101T000000Z-manual.manifest.json"
    (store / bad_key).parent.mkdir(parents=True, exist_ok=True)
    (store / bad_key).write_bytes(bad)
    listed = run_cli("--json", "list", check=True)
    assert {m["id"] for m in json.loads(listed.stdout)} == {a["id"], b["id"]}
    assert f"skipping unreadable manifest {bad_key}" in listed.stderr
    pruned = run_cli("prune", check=True)
    assert a["id"] in pruned.stdout and b["id"] in pruned.stdout
    unique = next(i for i in range(len(a["id"])) if a["id"][: i + 1] != b["id"][: i + 1]) + 1
    shown = run_cli("--json", "show", a["id"][:unique], check=True)  # a prefix: looked up by listing
    assert json.loads(shown.stdout)["id"] == a["id"]
    direct = run_cli("show", "app-20260101T000000Z-manual")
    assert direct.returncode != 0 and "Traceback" not in direct.stderr
    assert f"{bad_key} is not a valid backup manifest" in direct.stderr


def test_backup_in_the_old_format_still_decrypts(
    tmp_path: Path, write_config: ConfigWriter, pg_db: str, backup_key: str
) -> None:
    """Format 1: an id without a nonce and chunks bound to nothing but their header."""
    cfg = file_setup(write_config, tmp_path / "store", pg_db).cfg
    plain = os.urandom(3 * 1024 * 1024 + 17)
    enc = Encryptor(load_keyring(cfg.encryption), 1024 * 1024)  # no binding: the v1 header
    stored = b"".join(enc.update(zstandard.ZstdCompressor().compress(plain)) + enc.finalize())
    from datetime import UTC, datetime

    created = datetime(2025, 6, 1, 3, 0, tzinfo=UTC)
    bid = backup_id("app", created, "daily")
    assert bid == "app-20250601T030000Z-daily"
    manifest = Manifest(
        id=bid,
        database="app",
        kind="daily",
        created_at=created,
        key=object_key("app", created, bid),
        dump_bytes=len(plain),
        stored_bytes=len(stored),
        sha256=hashlib.sha256(stored).hexdigest(),
        encryption=enc.encryption_info(),
        format_version=1,
    )
    assert manifest.encryption["algorithm"] == ALGORITHM_V1
    storage = open_storage(cfg.storage)
    storage.put_bytes(manifest.key, stored)
    data = manifest.to_dict()
    del data["manifest_key"]
    storage.put_bytes(manifest.manifest_key, json.dumps(data).encode())
    assert get_backup(cfg, "latest:app").id == bid
    assert [m.id for m in list_backups(cfg, "app")] == [bid]
    assert b"".join(iter_plain(cfg, get_backup(cfg, bid))) == plain
    # Claiming format 2 for that object is refused: the header says 1.
    data["encryption"]["algorithm"] = "AES-256-GCM-chunked-v2"
    storage.put_bytes(manifest.manifest_key, json.dumps(data).encode())
    with pytest.raises(Exception, match="header format does not match the manifest"):
        b"".join(iter_plain(cfg, get_backup(cfg, bid)))
