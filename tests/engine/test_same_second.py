"""Two dumps of one database and kind in the same second: two backups, none overwritten, both restorable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.storage import open_storage
from adapters.storage.base import ObjectExistsError
from core.errors import DumpError
from engine import dump as dump_module
from engine.catalog import get_backup, list_backups
from engine.manifest import ID_RE
from tests.conftest import ConfigWriter
from tests.engine.conftest import REPO, Setup, file_setup, run_cli_bytes, s3_setup
from tests.engine.test_roundtrip import restore_and_compare
from tests.support.s3server import S3Server

# One process of a pipeline: the engine's dump, with the clock pinned to the same second.
DUMP_AT = """
import json, sys
from datetime import datetime
from core.config import load_config
from engine.dump import run_dump
m = run_dump(load_config(), "app", kind="pre-deploy", now=datetime.fromisoformat(sys.argv[1]))
print(json.dumps({"id": m.id, "key": m.key}))
"""


@pytest.fixture(params=["s3", "file"])
def setup(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    write_config: ConfigWriter,
    s3_server: S3Server,
    realistic_db: str,
    backup_key: str,
) -> Setup:
    if request.param == "s3":
        return s3_setup(write_config, s3_server, s3_server.new_bucket(), realistic_db)
    return file_setup(write_config, tmp_path / "store", realistic_db)


def test_two_processes_in_the_same_second_make_two_restorable_backups(tmp_path: Path, setup: Setup) -> None:
    stamp = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC).isoformat()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", DUMP_AT, stamp],
            cwd=REPO,
            env=dict(os.environ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        results.append(json.loads(out))
    ids = {r["id"] for r in results}
    assert len(ids) == 2 and len({r["key"] for r in results}) == 2
    for bid in ids:
        match = ID_RE.match(bid)
        assert (
            match
            and match["stamp"] == "20260501T120000Z"
            and match["kind"] == "pre-deploy"
            and match["nonce"]
        )
    assert {m.id for m in list_backups(setup.cfg, "app")} == ids
    for bid in ids:
        proc = run_cli_bytes("decrypt", bid)
        assert proc.returncode == 0, proc.stderr
        out = tmp_path / f"{bid}.dump"
        out.write_bytes(proc.stdout)
        restore_and_compare(out, setup.db_url)
    # A prefix shared by both is ambiguous, not silently one of them; latest: still answers.
    ambiguous = run_cli_bytes("show", "app-20260501T120000Z-pre-deploy")
    assert ambiguous.returncode == 2 and b"matches 2 backups" in ambiguous.stderr
    assert get_backup(setup.cfg, "latest:app").id in ids


def test_a_taken_key_is_never_overwritten(setup: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
    """The look before the write is beaten by a race (here: it sees nothing); the create-only write holds."""
    cfg = setup.cfg
    when = datetime(2026, 5, 2, 12, 0, 0, tzinfo=UTC)
    monkeypatch.setattr(dump_module, "new_nonce", lambda: "0aaa")
    first = dump_module.run_dump(cfg, "app", now=when)
    before = open_storage(cfg.storage).get_bytes(first.key)
    monkeypatch.setattr(type(open_storage(cfg.storage)), "exists", lambda self, key: False)
    with pytest.raises(DumpError) as caught:
        dump_module.run_dump(cfg, "app", now=when)
    assert "already exists" in caught.value.message and "not overwritten" in (caught.value.detail or "")
    monkeypatch.undo()
    storage = open_storage(cfg.storage)
    assert storage.get_bytes(first.key) == before
    assert get_backup(cfg, first.id).sha256 == first.sha256
    assert [m.id for m in list_backups(cfg, "app")] == [first.id]
    assert not storage.list_uploads("db/")


def test_create_only_writes(setup: Setup) -> None:
    storage = open_storage(setup.cfg.storage)
    storage.put_bytes("db/x/one", b"first", create_only=True)
    with pytest.raises(ObjectExistsError):
        storage.put_bytes("db/x/one", b"second", create_only=True)
    with pytest.raises(ObjectExistsError):
        # 36 MB: a multipart upload on S3 (16 MB parts), refused at CompleteMultipartUpload
        storage.put_stream("db/x/one", iter([b"s" * (9 * 1024 * 1024)] * 4), create_only=True)
    assert storage.get_bytes("db/x/one") == b"first"
    assert not storage.list_uploads("db/")
    storage.put_bytes("db/x/one", b"replaced")  # the default still overwrites (runbook entries, audit)
    assert storage.get_bytes("db/x/one") == b"replaced"


def test_a_repeated_create_of_our_own_bytes_is_not_a_clash(
    write_config: ConfigWriter, s3_server: S3Server, s3_bucket: str, pg_db: str
) -> None:
    """botocore repeats a write that timed out; if the first attempt was stored, the repeat gets 412.

    What is there is byte for byte what we sent, so it is our write that succeeded, not a clash.
    """
    storage = open_storage(s3_setup(write_config, s3_server, s3_bucket, pg_db).cfg.storage)
    storage.put_bytes("db/x/manifest", b"ours", create_only=True)
    storage.put_bytes("db/x/manifest", b"ours", create_only=True)  # the repeat: fine
    with pytest.raises(ObjectExistsError):
        storage.put_bytes("db/x/manifest", b"theirs", create_only=True)
    big = [b"m" * (9 * 1024 * 1024)] * 4  # multipart: the completed object's ETag is compared
    storage.put_stream("db/x/big", iter(big), create_only=True)
    storage.put_stream("db/x/big", iter(big), create_only=True)
    with pytest.raises(ObjectExistsError):
        storage.put_stream("db/x/big", iter([b"n" * (9 * 1024 * 1024)] * 4), create_only=True)
    assert storage.get_bytes("db/x/manifest") == b"ours" and storage.list_uploads("db/") == []
