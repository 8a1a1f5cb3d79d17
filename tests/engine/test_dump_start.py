"""How a dump starts: pg_dump runs while the bucket is checked, and nothing outlives a failed check.

pg_dump is started as soon as the database side of the preflight passed, so it reads the
catalog while boto3 loads and the bucket answers. These tests hold that to the promises of
the preflight: a bucket that fails its check still gets one clear message, nothing is written,
and the pg_dump already started is not left running. And pg_dump's bigger stdio buffer
(coreutils' stdbuf) is an optimisation only: where stdbuf is broken, the dump still works.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from tests.conftest import ConfigWriter
from tests.engine.conftest import fake_pg_dump, file_setup, run_cli, s3_setup
from tests.support.s3server import S3Server

# Writes its pid, then a little output, then waits far longer than any test: only a kill ends it.
STALLING_PG_DUMP = """
import pathlib, time
pathlib.Path(os.environ["BB_TEST_PID_FILE"]).write_text(str(os.getpid()))
sys.stdout.buffer.write(b"PGDMP" + b"x" * 65536)
sys.stdout.buffer.flush()
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie is dead, only not yet reaped


def test_failed_bucket_check_kills_the_started_pg_dump(
    tmp_path: Path,
    write_config: ConfigWriter,
    s3_server: S3Server,
    pg_db: str,
    backup_key: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pid_file = tmp_path / "pg_dump.pid"
    fake_pg_dump(tmp_path / "bin", STALLING_PG_DUMP)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("BB_TEST_PID_FILE", str(pid_file))
    s3_setup(write_config, s3_server, "bb-no-such-bucket", pg_db)

    proc = run_cli("dump", "--database", "app")

    assert proc.returncode == 1
    assert "NoSuchBucket" in proc.stderr and "Create the bucket or fix [storage] url" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert pid_file.exists(), "pg_dump was not started before the bucket check (the test proves nothing)"
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid), "pg_dump was left running after the failed preflight"


def test_dump_works_where_stdbuf_is_broken(
    tmp_path: Path,
    write_config: ConfigWriter,
    realistic_db: str,
    backup_key: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    broken = bin_dir / "stdbuf"
    broken.write_text("#!/bin/sh\necho \"stdbuf: failed to find 'libstdbuf.so'\" >&2\nexit 125\n")
    broken.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    setup = file_setup(write_config, tmp_path / "store", realistic_db)

    dumped = run_cli("--json", "dump", "--database", "app", check=True)
    manifest = json.loads(dumped.stdout)

    listed = json.loads(run_cli("--json", "list", check=True).stdout)
    assert [m["id"] for m in listed] == [manifest["id"]]
    plain = tmp_path / "plain.dump"
    run_cli("decrypt", manifest["id"], "-o", str(plain), check=True)
    assert plain.read_bytes()[:5] == b"PGDMP"
    assert manifest["dump_bytes"] == plain.stat().st_size
    assert setup.store is not None and any(setup.store.rglob("*.dump.zst.enc"))
