"""A dump stopped from outside — the job's cancel button, Ctrl-C, a restarted worker — leaves nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from adapters.storage import open_storage
from core.config import load_config
from core.errors import DumpError
from engine.dump import Progress, run_dump
from tests.conftest import ConfigWriter
from tests.engine.conftest import REPO, fake_pg_dump, s3_setup
from tests.engine.test_faults import assert_nothing_left
from tests.support.s3server import S3Server

# 12 MB of output (two 5 MB parts start uploading), a marker file, then pg_dump hangs.
STALLING_PG_DUMP = (
    "out = sys.stdout.buffer\n"
    "for _ in range(12):\n"
    "    out.write(os.urandom(1024 * 1024))\n"
    "out.flush()\n"
    "open(os.environ['BB_TEST_MARKER'], 'w').write(str(os.getpid()))\n"
    "import time\n"
    "time.sleep(120)\n"
)


@pytest.fixture
def stalling(
    tmp_path: Path,
    write_config: ConfigWriter,
    s3_server: S3Server,
    s3_bucket: str,
    realistic_db: str,
    backup_key: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    fake_pg_dump(tmp_path / "bin", STALLING_PG_DUMP)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    marker = tmp_path / "pg_dump.pid"
    monkeypatch.setenv("BB_TEST_MARKER", str(marker))
    s3_setup(write_config, s3_server, s3_bucket, realistic_db, "part_size_mb = 5")
    return marker


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purposes
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().split(") ")[1][0] != "Z"


def test_cancel_event_stops_pg_dump_and_aborts(stalling: Path, s3_server: S3Server, s3_bucket: str) -> None:
    cfg = load_config()
    cancel = threading.Event()
    reports: list[Progress] = []

    def on_progress(p: Progress) -> None:
        reports.append(p)
        if stalling.exists() and p.bytes_out >= 10 * 1024 * 1024:
            cancel.set()

    with pytest.raises(DumpError, match="backup of database 'app' was cancelled"):
        run_dump(cfg, "app", on_progress=on_progress, cancel=cancel)
    assert reports and reports[-1].bytes_in == 12 * 1024 * 1024
    assert not pid_alive(int(stalling.read_text()))
    assert_nothing_left(s3_server, s3_bucket)


def test_ctrl_c_on_the_cli_aborts(stalling: Path, s3_server: S3Server, s3_bucket: str) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "dump", "--database", "app"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not stalling.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # let the parts already read reach the uploader
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "interrupted" in err and "Traceback" not in err
    assert not pid_alive(int(stalling.read_text()))
    assert_nothing_left(s3_server, s3_bucket)


def test_abort_incomplete_after_a_worker_died(
    s3_server: S3Server, s3_bucket: str, write_config: ConfigWriter, pg_db: str
) -> None:
    s3_setup(write_config, s3_server, s3_bucket, pg_db)
    client = s3_server.client()
    client.create_multipart_upload(Bucket=s3_bucket, Key="backups/db/app/2026/01/x.dump.zst.enc")
    client.create_multipart_upload(Bucket=s3_bucket, Key="elsewhere/y")
    storage = open_storage(load_config().storage)
    assert storage.abort_incomplete("db/") == 1
    assert [u["Key"] for u in client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", [])] == [
        "elsewhere/y"
    ]


def test_object_lock_and_kms_settings_reach_every_object(
    s3_server: S3Server, write_config: ConfigWriter, realistic_db: str, backup_key: str
) -> None:
    bucket = s3_server.new_bucket(object_lock=True)
    s3_setup(
        write_config,
        s3_server,
        bucket,
        realistic_db,
        'object_lock_mode = "GOVERNANCE"\nobject_lock_days = 3\nsse = "aws:kms"\nkms_key_id = "alias/backups"',
    )
    manifest = run_dump(load_config(), "app")
    client = s3_server.client()
    for key in (manifest.key, manifest.manifest_key):
        head = client.head_object(Bucket=bucket, Key=f"backups/{key}")
        assert head["ObjectLockMode"] == "GOVERNANCE"
        assert head["ServerSideEncryption"] == "aws:kms"
