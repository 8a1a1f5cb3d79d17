"""`python -m jobs`: a runner in its own process takes jobs another process queued in the shared store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from jobs.queue import enqueue
from jobs.status import JobStatus
from jobs.store import DB_FILE, Store
from tests.bot.conftest import ROOT


def test_separate_worker_runs_queued_dump(tmp_path: Path, pg_db: str, backup_key: str) -> None:
    config = tmp_path / "backupbot.toml"
    config.write_text(
        f'[storage]\nurl = "{(tmp_path / "store").as_uri()}"\n\n[databases.app]\ndump_url_env = "APP_URL"\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PYTEST_"))}
    env.update(
        {
            "BACKUPBOT_CONFIG": str(config),
            "BACKUPBOT_STATE_DIR": str(tmp_path / "state"),
            "BACKUPBOT_KEY": backup_key,
            "APP_URL": pg_db,
        }
    )
    store = Store(tmp_path / "state" / DB_FILE)
    job = enqueue(store, "dump", "app", {"kind": "manual", "reason": "worker"}, requested_by="U1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jobs"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while store.get_job(job.id).status not in (JobStatus.SUCCEEDED, JobStatus.FAILED):
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.1)
        done = store.get_job(job.id)
        assert done.status == JobStatus.SUCCEEDED, done.error
        assert done.result["backup_id"].startswith("app-")
        assert list((tmp_path / "store").rglob(f"{done.result['backup_id']}.manifest.json"))
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
        store.close()
    assert proc.returncode == 0
    assert "done: Backup" in out
