"""A stored backup that was altered, cut short, swapped or needs another key is refused by `backupbot decrypt`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import ConfigWriter
from tests.engine.conftest import file_setup, run_cli, s3_setup
from tests.support.s3server import S3Server

RECORD = 1024 * 1024 + 16  # one encrypted chunk on the wire
HEADER = 8 + 1 + 4 + 8 + 1 + 60


@pytest.fixture
def stored(tmp_path: Path, write_config: ConfigWriter, bulky_db: str, backup_key: str) -> tuple[dict, Path]:
    setup = file_setup(write_config, tmp_path / "store", bulky_db)
    manifest = json.loads(run_cli("--json", "dump", "--database", "app", check=True).stdout)
    assert setup.store is not None
    return manifest, setup.store / manifest["key"]


def refused(tmp_path: Path, backup: str) -> str:
    out = tmp_path / "out.dump"
    proc = run_cli("decrypt", backup, "-o", str(out))
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert not out.exists() and not list(tmp_path.glob(".out.dump.partial*"))
    return proc.stderr


def test_intact_backup_decrypts(tmp_path: Path, stored: tuple[dict, Path]) -> None:
    manifest, _ = stored
    out = tmp_path / "out.dump"
    run_cli("decrypt", manifest["id"], "-o", str(out), check=True)
    assert out.stat().st_size == manifest["dump_bytes"]


def test_flipped_byte_is_refused(tmp_path: Path, stored: tuple[dict, Path]) -> None:
    manifest, obj = stored
    data = bytearray(obj.read_bytes())
    data[HEADER + 5 * RECORD + 1000] ^= 0x40
    obj.write_bytes(bytes(data))
    err = refused(tmp_path, manifest["id"])
    assert f"backup {manifest['id']}: chunk 5 failed authentication" in err


def test_truncated_object_is_refused(tmp_path: Path, stored: tuple[dict, Path]) -> None:
    manifest, obj = stored
    data = obj.read_bytes()
    assert len(data) > HEADER + 4 * RECORD
    obj.write_bytes(data[: HEADER + 4 * RECORD])
    err = refused(tmp_path, manifest["id"])
    assert "object is truncated" in err and "chunk 3, which is not marked as the last chunk" in err


def test_swapped_object_fails_at_its_first_chunk(tmp_path: Path, stored: tuple[dict, Path]) -> None:
    manifest, obj = stored
    other = json.loads(run_cli("--json", "dump", "--database", "app", check=True).stdout)
    obj.write_bytes((obj.parent / Path(other["key"]).name).read_bytes())  # a valid object, but not this one
    err = refused(tmp_path, manifest["id"])
    # Its chunks authenticate the other backup's id and key (format v2), so chunk 0 already fails.
    assert "chunk 0 failed authentication" in err


def test_wrong_key_is_refused_and_old_key_works(
    tmp_path: Path, stored: tuple[dict, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest, _ = stored
    original = os.environ["BACKUPBOT_KEY"]
    monkeypatch.setenv("BACKUPBOT_KEY", run_cli("keygen", check=True).stdout.strip())
    err = refused(tmp_path, manifest["id"])
    needed = manifest["encryption"]["key_id"]
    assert f"encrypted with key id {needed}, which is not loaded" in err
    assert "Keys loaded:" in err and "(from BACKUPBOT_KEY)" in err
    assert original not in err
    # rotation: the old key listed in old_key_envs still decrypts
    cfg = Path(os.environ["BACKUPBOT_CONFIG"])
    cfg.write_text(cfg.read_text() + '\n[encryption]\nold_key_envs = ["BACKUPBOT_OLD_KEY"]\n')
    monkeypatch.setenv("BACKUPBOT_OLD_KEY", original)
    run_cli("decrypt", manifest["id"], "-o", str(tmp_path / "ok.dump"), check=True)


def test_altered_object_in_s3_is_refused(
    tmp_path: Path,
    write_config: ConfigWriter,
    s3_server: S3Server,
    s3_bucket: str,
    realistic_db: str,
    backup_key: str,
) -> None:
    s3_setup(write_config, s3_server, s3_bucket, realistic_db)
    manifest = json.loads(run_cli("--json", "dump", check=True).stdout)
    client = s3_server.client()
    key = f"backups/{manifest['key']}"
    data = bytearray(client.get_object(Bucket=s3_bucket, Key=key)["Body"].read())
    data[HEADER + 100] ^= 0x01
    client.put_object(Bucket=s3_bucket, Key=key, Body=bytes(data), ServerSideEncryption="AES256")
    err = refused(tmp_path, "latest:app")
    assert "chunk 0 failed authentication" in err
