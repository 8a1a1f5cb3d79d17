"""Two `python -m jobs` processes, each with its scheduler, on one store: a slot becomes one job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.config import load_config
from jobs.events import NullReporter
from jobs.scheduler import Scheduler
from jobs.store import DB_FILE, Store

pytestmark = pytest.mark.usefixtures("state_backend")  # the store's suite runs on SQLite and PostgreSQL

ROOT = Path(__file__).resolve().parents[2]


def test_two_workers_ticking_the_same_slot_make_one_job(tmp_path: Path, pg_db: str, backup_key: str) -> None:
    config = tmp_path / "backupbot.toml"
    config.write_text(
        f'[storage]\nurl = "{(tmp_path / "store").as_uri()}"\n\n'
        '[databases.app]\ndump_url_env = "APP_URL"\nschedule = "* * * * *"\n'
    )
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PYTEST_", "BACKUPBOT_SCHEDULER"))
    }
    env.update(
        {
            "BACKUPBOT_CONFIG": str(config),
            "BACKUPBOT_STATE_DIR": str(tmp_path / "state"),
            "BACKUPBOT_KEY": backup_key,
            "APP_URL": pg_db,
        }
    )
    cfg = load_config(str(config))
    store = Store(tmp_path / "state" / DB_FILE)
    # An earlier scheduler has watched this entry for two minutes, so the current slot is due.
    Scheduler(cfg, store, NullReporter(), clock=lambda: datetime.now(UTC) - timedelta(minutes=2)).tick()

    logs = [tmp_path / f"worker{i}.log" for i in range(3)]
    procs = []
    for i, log in enumerate(logs):
        worker_env = {**env, "BACKUPBOT_SCHEDULER": "off"} if i == 2 else env
        with log.open("w") as out:
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "jobs"],
                    cwd=ROOT,
                    env=worker_env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )
    try:
        deadline = time.monotonic() + 60
        while not (
            all("scheduler started" in log.read_text() for log in logs[:2])
            and (jobs := store.list_jobs(kind="dump", limit=100))
            and all(j.status.terminal for j in jobs)
        ):
            assert time.monotonic() < deadline, [log.read_text()[-2000:] for log in logs]
            assert all(p.poll() is None for p in procs)
            time.sleep(0.1)
        time.sleep(1.0)  # both schedulers have ticked at least once since they started
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(timeout=30)
    jobs = store.list_jobs(kind="dump", limit=100)
    store.close()
    per_slot = Counter(j.params["slot"] for j in jobs)
    assert jobs and set(per_slot.values()) == {1}, per_slot
    assert all(j.result and j.result["backup_id"].startswith("app-") for j in jobs), [j.error for j in jobs]
    texts = [log.read_text() for log in logs]
    # Each slot was queued by exactly one of the two schedulers.
    assert sum(t.count("scheduled dump app") for t in texts) == len(jobs)
    assert "scheduler off (BACKUPBOT_SCHEDULER=off)" in texts[2] and "scheduler started" not in texts[2]
    assert all(p.returncode == 0 for p in procs)
