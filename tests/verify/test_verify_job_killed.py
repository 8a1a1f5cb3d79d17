"""A verify job whose worker process is killed mid-restore: recovery drops its scratch database."""

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
from jobs.events import NullReporter
from jobs.queue import enqueue
from jobs.runner import Runner
from jobs.scratch_book import StoreScratchBook
from jobs.status import JobStatus
from jobs.store import Store
from tests.conftest import ConfigWriter
from tests.support import pg
from tests.support.s3server import S3Server
from tests.verify.conftest import VERIFY, scratch_databases
from tests.verify.test_verify_killed import SLOW, _restoring_into

pytestmark = pytest.mark.usefixtures("state_backend")  # the scratch book on SQLite and PostgreSQL

REPO = Path(__file__).resolve().parents[2]


def test_interrupted_verify_job_drops_its_scratch_database_and_runs_again(
    s3_server: S3Server,
    s3_bucket: str,
    write_config: ConfigWriter,
    backup_key: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BACKUPBOT_VERIFY_URL", pg.ADMIN_URL)
    monkeypatch.setenv("BACKUPBOT_SCHEDULER", "off")
    with pg.temp_database("bbvjob") as source:
        pg.fill_realistic(source, customers=10, invoices_per_customer=1)
        with psycopg.connect(source, autocommit=True) as conn:
            conn.execute(SLOW)
        path = write_config(
            f"s3://{s3_bucket}/bb", {"app": source}, extra=VERIFY, endpoint_url=s3_server.endpoint_url
        )
        cfg = load_config(str(path))
        backup = run_dump(cfg, "app")
        store = Store.for_config(cfg)
        book = StoreScratchBook(store)
        job = enqueue(store, "verify", "app", {"backup_id": backup.id}, requested_by="UDEV")

        worker = subprocess.Popen(
            [sys.executable, "-m", "jobs", "--reporter", "log"],
            cwd=REPO,
            env=dict(os.environ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            name = ""
            while time.monotonic() < deadline and not name:
                rows = [r for r in book.all() if r.job_id == job.id]
                if rows and _restoring_into(rows[0].name):
                    name = rows[0].name
                time.sleep(0.05)
            assert name.startswith(f"backupbot_scratch_j{job.id}_"), "the job never reached its restore"
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait(10)
        finally:
            if worker.poll() is None:
                worker.kill()
        assert name in scratch_databases()

        runner = Runner(cfg, store, NullReporter())
        [found] = runner.recover()
        interrupted = store.get_job(found.id)
        assert interrupted.status == JobStatus.INTERRUPTED
        assert f"Its scratch database {name} was dropped." in interrupted.error["detail"]
        assert name not in scratch_databases() and book.all() == []

        again = enqueue(store, "verify", "app", {"backup_id": backup.id}, requested_by="UDEV")
        runner.start()
        try:
            deadline = time.monotonic() + 120
            while not store.get_job(again.id).status.terminal and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            runner.stop()
        done = store.get_job(again.id)
        assert done.status == JobStatus.SUCCEEDED, done.error
        assert done.result["scratch_database"] not in scratch_databases()
