"""A verification killed mid-restore leaves a scratch database; the next start drops it and passes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from core.config import load_config
from engine.dump import run_dump
from engine.restore_plan import staging_dir
from engine.verify import verify_backup
from jobs.scratch_book import StoreScratchBook
from jobs.store import Store
from tests.conftest import ConfigWriter
from tests.support import pg
from tests.support.s3server import S3Server
from tests.verify.conftest import VERIFY, scratch_databases

pytestmark = pytest.mark.usefixtures("state_backend")  # the scratch book on SQLite and PostgreSQL

REPO = Path(__file__).resolve().parents[2]

# Every row restored calls slow_ok() through the CHECK constraint: the restore takes seconds,
# long enough to kill the process in the middle of it.
SLOW = """
CREATE FUNCTION slow_ok(n int) RETURNS boolean LANGUAGE sql AS 'SELECT true FROM pg_sleep(0.005)';
CREATE TABLE slow_rows (id int PRIMARY KEY CHECK (slow_ok(id)), note text);
INSERT INTO slow_rows SELECT g, 'row ' || g FROM generate_series(1, 300) g;
"""


def _restoring_into(name: str) -> bool:
    with psycopg.connect(pg.ADMIN_URL, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND application_name = 'pg_restore'",
            (name,),
        ).fetchone()
    return bool(row and row[0])


def test_killed_verify_leaves_nothing_after_the_next_start(
    s3_server: S3Server,
    s3_bucket: str,
    write_config: ConfigWriter,
    backup_key: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BACKUPBOT_VERIFY_URL", pg.ADMIN_URL)
    with pg.temp_database("bbvkill") as source:
        pg.fill_realistic(source, customers=20, invoices_per_customer=2)
        with psycopg.connect(source, autocommit=True) as conn:
            conn.execute(SLOW)
        path = write_config(
            f"s3://{s3_bucket}/bb", {"app": source}, extra=VERIFY, endpoint_url=s3_server.endpoint_url
        )
        cfg = load_config(str(path))
        backup = run_dump(cfg, "app")
        book = StoreScratchBook(Store.for_config(cfg))

        proc = subprocess.Popen(
            [sys.executable, "-m", "cli", "verify", backup.id],
            cwd=REPO,
            env=dict(os.environ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 60
            name = ""
            while time.monotonic() < deadline:
                rows = book.all()
                if rows and _restoring_into(rows[0].name):
                    name = rows[0].name
                    break
                assert proc.poll() is None, proc.stderr.read().decode()  # type: ignore[union-attr]
                time.sleep(0.05)
            assert name, "the verification never reached its restore"
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert name in scratch_databases()  # what a killed run leaves behind
        staged = list(Path(staging_dir(cfg)).glob("scratch-*.dump"))
        assert len(staged) == 1  # and its staged dump

        report = verify_backup(cfg, backup, book)
        assert report.passed
        assert name not in scratch_databases()
        assert report.scratch not in scratch_databases()
        assert book.all() == []
        assert list(Path(staging_dir(cfg)).glob("scratch-*.dump")) == []
        assert report.tables["public.slow_rows"] == {"restored": 300, "recorded": 300}
