"""A backup slow enough to restore that a test can kill the process in the middle of it.

Every row restored calls slow_ok() through the CHECK constraint, so the restore of
``slow_rows`` takes seconds: the window in which a verification is killed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg
import pytest

from core.config import Config, load_config
from engine.dump import run_dump
from engine.manifest import Manifest
from tests.conftest import ConfigWriter
from tests.support import pg
from tests.support.s3server import S3Server
from tests.verify.conftest import VERIFY

SLOW = """
CREATE FUNCTION slow_ok(n int) RETURNS boolean LANGUAGE sql AS 'SELECT true FROM pg_sleep(0.005)';
CREATE TABLE slow_rows (id int PRIMARY KEY CHECK (slow_ok(id)), note text);
INSERT INTO slow_rows SELECT g, 'row ' || g FROM generate_series(1, 300) g;
"""


def restoring_into(name: str) -> bool:
    """pg_restore has a session in database ``name``: the restore has really begun."""
    with psycopg.connect(pg.ADMIN_URL, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND application_name = 'pg_restore'",
            (name,),
        ).fetchone()
    return bool(row and row[0])


@contextmanager
def slow_backup(
    prefix: str,
    s3_server: S3Server,
    s3_bucket: str,
    write_config: ConfigWriter,
    monkeypatch: pytest.MonkeyPatch,
    customers: int,
) -> Iterator[tuple[Config, Manifest]]:
    """A config with verification on this server, and a backup of ``app`` that restores slowly."""
    monkeypatch.setenv("BACKUPBOT_VERIFY_URL", pg.ADMIN_URL)
    with pg.temp_database(prefix) as source:
        pg.fill_realistic(source, customers=customers, invoices_per_customer=2 if customers > 10 else 1)
        with psycopg.connect(source, autocommit=True) as conn:
            conn.execute(SLOW)
        path = write_config(
            f"s3://{s3_bucket}/bb", {"app": source}, extra=VERIFY, endpoint_url=s3_server.endpoint_url
        )
        cfg = load_config(str(path))
        yield cfg, run_dump(cfg, "app")


def kill_mid_restore(proc: subprocess.Popen[bytes], scratch_name: Callable[[], str]) -> str:
    """SIGKILL ``proc`` once pg_restore is inside the scratch database ``scratch_name()`` names."""
    try:
        deadline = time.monotonic() + 60
        name = ""
        while time.monotonic() < deadline and not name:
            candidate = scratch_name()
            if candidate and restoring_into(candidate):
                name = candidate
                break
            stderr = proc.stderr.read().decode() if proc.stderr and proc.poll() is not None else ""
            assert proc.poll() is None, f"the process ended before its restore: {stderr}"
            time.sleep(0.05)
        assert name, "the process never reached its restore"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        return name
    finally:
        if proc.poll() is None:
            proc.kill()
