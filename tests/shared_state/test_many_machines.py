"""Two web processes and two workers on different "machines", sharing only the PostgreSQL state.

What a team on Heroku / Render would check: every dump asked for in Slack ran once and
has one message in the channel; the audit trail tells each change once; a worker that
dies mid-dump is noticed by the other one; a redeploy onto fresh disks forgets nothing.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from jobs.status import JobStatus
from jobs.store import Store
from tests.bot.conftest import fill_incompressible
from tests.shared_state.machines import base_env, running, web, worker, write_config
from tests.support import pg
from tests.support.fake_slack import FakeSlack
from tests.support.s3server import S3Server

DATABASES = ["app0", "app1", "app2", "app3"]


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    f = FakeSlack()
    yield f
    f.stop()


@pytest.fixture
def state_url() -> Iterator[str]:
    with pg.temp_database("bbstate") as url:
        yield url


@pytest.fixture
def small_db(pg_db: str) -> str:
    with psycopg.connect(pg_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (id int PRIMARY KEY, v text)")
        conn.execute("INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 500) g")
    return pg_db


def wait(predicate: Any, timeout: float, what: str, logs: list[Path]) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = predicate()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}\n" + "\n".join(p.read_text()[-3000:] for p in logs))


def test_fifty_dumps_from_two_web_processes_run_once_each_with_one_message(
    tmp_path: Path, s3_server: S3Server, fake: FakeSlack, small_db: str, backup_key: str, state_url: str
) -> None:
    config = write_config(
        tmp_path / "backupbot.toml", s3_server.new_bucket(), s3_server.endpoint_url, DATABASES
    )
    env = base_env(config, state_url, backup_key, fake, small_db)
    webs = [web(tmp_path, "web-a", env), web(tmp_path, "web-b", env)]
    workers = [worker(tmp_path, "worker-1", env), worker(tmp_path, "worker-2", env)]
    logs = [m.log for m in (*webs, *workers)]
    store = Store(tmp_path / "observer", url=state_url)
    with running(*webs, *workers):
        answers: list[str] = []

        def ask(i: int) -> None:
            resp = webs[i % 2].command(f"dump {DATABASES[i % len(DATABASES)]}", user=f"U{1 + i % 2}")
            assert resp.status_code == 200, resp.text
            answers.append(resp.json()["text"])

        threads = [threading.Thread(target=ask, args=(i,)) for i in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(answers) == 50 and all("Queued a backup of" in a for a in answers), answers
        wait(
            lambda: (
                len(jobs := store.list_jobs(kind="dump", limit=100)) == 50
                and all(j.status.terminal for j in jobs)
            ),
            240,
            "50 finished dumps",
            logs,
        )
        jobs = store.list_jobs(kind="dump", limit=100)
        wait(
            lambda: sum(1 for m in fake.messages("C1") if re.search(r"done|stored", m.text)) >= 50,
            60,
            "50 done messages",
            logs,
        )
    assert all(j.status == JobStatus.SUCCEEDED for j in jobs), [(j.id, j.status, j.error) for j in jobs]
    assert all(j.attempts == 1 for j in jobs)
    assert {j.worker.split(":")[1] for j in jobs} <= {str(w.proc.pid) for w in workers if w.proc}

    # One channel message per job, edited in place, and nothing else in the channel.
    messages = fake.messages("C1")
    per_job = Counter(int(m) for msg in messages for m in set(re.findall(r"\(job (\d+)\)", msg.text)))
    assert len(messages) == 50 and per_job == Counter({j.id: 1 for j in jobs}), [m.text for m in messages]

    # The audit trail holds each state change once.
    for job in jobs:
        changes = [(r["from_status"], r["to_status"]) for r in store.audit_rows(job.id) if r["to_status"]]
        assert changes == [(None, "queued"), ("queued", "running"), ("running", "succeeded")], (
            job.id,
            changes,
        )

    # 50 backups in the bucket, as `backupbot list` shows them.
    listed = subprocess.run(
        [sys.executable, "-m", "cli", "list", "--json"],
        cwd=tmp_path,
        env={**env, "BACKUPBOT_STATE_DIR": str(tmp_path / "cli-state")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listed.returncode == 0, listed.stderr
    assert len(json.loads(listed.stdout)) == 50
    store.close()


def test_a_worker_killed_mid_dump_is_noticed_by_the_other_and_a_redeploy_forgets_nothing(
    tmp_path: Path,
    s3_server: S3Server,
    fake: FakeSlack,
    pg_db: str,
    backup_key: str,
    state_url: str,
    slow_pg_dump: dict[str, str],
) -> None:
    fill_incompressible(pg_db, megabytes=8)
    bucket = s3_server.new_bucket()
    config = write_config(tmp_path / "backupbot.toml", bucket, s3_server.endpoint_url, ["app"])
    env = base_env(config, state_url, backup_key, fake, pg_db)
    store = Store(tmp_path / "observer", url=state_url)
    s3 = s3_server.client()
    front = web(tmp_path, "web-a", env)
    doomed = worker(tmp_path, "worker-1", env, PATH=slow_pg_dump["PATH"])
    logs = [front.log, doomed.log]
    with running(front, doomed):
        assert front.command("dump app").status_code == 200
        wait(
            lambda: (
                Path(slow_pg_dump["marker"]).exists()
                and s3.list_multipart_uploads(Bucket=bucket).get("Uploads")
            ),
            90,
            "a dump stalled inside its multipart upload",
            logs,
        )
        job = store.list_jobs(kind="dump", limit=1)[0]
        assert job.status == JobStatus.RUNNING
        doomed.kill()  # SIGKILL, with its pg_dump: a machine that vanished

        # A second dump of the same database waits in the same lane.
        assert front.command("dump app").status_code == 200
        survivor = worker(tmp_path, "worker-2", env)
        logs.append(survivor.log)
        with running(survivor):
            wait(lambda: store.get_job(job.id).status == JobStatus.INTERRUPTED, 60, "the interruption", logs)
            by = [r["actor"] for r in store.audit_rows(job.id) if r["to_status"] == "interrupted"]
            assert len(by) == 1 and by[0].split(":")[1] == str(survivor.proc.pid if survivor.proc else "")
            assert not s3.list_multipart_uploads(Bucket=bucket).get("Uploads")
            msg = wait(
                lambda: next(
                    (
                        m
                        for m in fake.messages("C1")
                        if f"(job {job.id})" in m.text and "interrupted" in m.text
                    ),
                    None,
                ),
                30,
                "the channel told",
                logs,
            )
            assert "Run it again" in msg.text
            second = job.id + 1
            wait(
                lambda: store.get_job(second).status == JobStatus.SUCCEEDED, 120, "the next dump of app", logs
            )
    store.close()

    # A redeploy: everything stopped, started again on fresh directories.
    with running(web(tmp_path, "web-a-2", env), worker(tmp_path, "worker-3", env)) as (again, _):
        status = again.command(f"status {job.id}").json()["text"]
        assert "interrupted" in status
        assert (
            "succeeded" in again.command(f"status {job.id + 1}").json()["text"]
            or "done" in again.command(f"status {job.id + 1}").json()["text"]
        )
