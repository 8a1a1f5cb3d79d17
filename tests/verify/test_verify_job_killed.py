"""A verify job whose worker process is killed mid-restore: recovery drops its scratch database."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jobs.events import NullReporter
from jobs.queue import enqueue
from jobs.runner import Runner
from jobs.scratch_book import StoreScratchBook
from jobs.status import JobStatus
from jobs.store import Store
from tests.conftest import ConfigWriter
from tests.support.s3server import S3Server
from tests.verify.conftest import scratch_databases
from tests.verify.slow import kill_mid_restore, slow_backup

pytestmark = pytest.mark.usefixtures("state_backend")  # the scratch book on SQLite and PostgreSQL

REPO = Path(__file__).resolve().parents[2]


def test_interrupted_verify_job_drops_its_scratch_database_and_runs_again(
    s3_server: S3Server,
    s3_bucket: str,
    write_config: ConfigWriter,
    backup_key: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BACKUPBOT_SCHEDULER", "off")
    with slow_backup("bbvjob", s3_server, s3_bucket, write_config, monkeypatch, customers=10) as (
        cfg,
        backup,
    ):
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
        name = kill_mid_restore(worker, lambda: next((r.name for r in book.all() if r.job_id == job.id), ""))
        assert name.startswith(f"backupbot_scratch_j{job.id}_")
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
