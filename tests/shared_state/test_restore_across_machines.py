"""A restore across machines: asked on one web process, approved on another, run by a worker.

The request outlives a redeploy of the web processes. The target's dump is stuck on a worker that then dies (SIGKILL); a lock a vanished
machine left on the target lapses; the surviving worker interrupts the dump and then runs
the restore, once, though two leads clicked Approve on two web processes at the same moment.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobs.status import JobStatus
from jobs.store import Store
from tests.bot.conftest import BOT_TOKEN, SECRET
from tests.restore.conftest import Scene
from tests.restore.test_slack_restore import SLACK, button_value, request_message
from tests.shared_state.machines import Machine, running, web, worker
from tests.support import pg
from tests.support.fake_slack import FakeSlack
from tests.support.slack_signing import action_body, post_signed


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    f = FakeSlack()
    yield f
    f.stop()


def click(machine: Machine, fake: FakeSlack, msg_ts: str, value: str, user: str, name: str) -> None:
    body = action_body(
        "restore_approve",
        value,
        user=user,
        channel="C1",
        response_url=fake.response_url(name),
        message_ts=msg_ts,
    )
    assert post_signed(machine.url, SECRET, body).status_code == 200


def wait(predicate, timeout: float, what: str, logs: list[Path]):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = predicate()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}\n" + "\n".join(p.read_text()[-3000:] for p in logs))


def test_restore_approved_on_two_web_processes_runs_once_after_the_dead_workers_dump(
    scene: Scene, fake: FakeSlack, slow_pg_dump: dict[str, str]
) -> None:
    text = scene.cfg_path.read_text().replace('[slack]\nchannel = "C0BACKUPS"\n', SLACK)
    scene.cfg_path.write_text(text)
    with pg.temp_database("bbstate") as state_url:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "SLACK_"))}
        env.pop("BACKUPBOT_STATE_DIR", None)
        env.update(
            {
                "BACKUPBOT_STATE_URL": state_url,
                "BACKUPBOT_SCHEDULER": "off",
                "SLACK_BOT_TOKEN": BOT_TOKEN,
                "SLACK_SIGNING_SECRET": SECRET,
                "SLACK_API_URL": fake.api_url,
                "LOG_LEVEL": "INFO",
            }
        )
        root = scene.tmp / "machines"
        web_a, web_b = web(root, "web-a", env), web(root, "web-b", env)
        doomed = worker(root, "worker-1", env, PATH=slow_pg_dump["PATH"])
        logs = [web_a.log, web_b.log, doomed.log]
        store = Store(root / "observer", url=state_url)
        with running(web_a, web_b, doomed):
            # A dump of the target, stuck on worker-1.
            assert web_a.command("dump staging", user="U0DEV").status_code == 200
            wait(lambda: Path(slow_pg_dump["marker"]).exists(), 90, "the stalled dump", logs)
            dump = store.list_jobs(kind="dump", limit=1)[0]
            # A machine that vanished mid break-glass restore left its lock on the target.
            assert store.acquire_lock("restore:staging", "gone-host:4242:dead", ttl_seconds=2)

            resp = web_b.command(
                f'restore {scene.backup.id} --target staging --reason "drill"',
                user="U0DEV",
                response_url=fake.response_url("ask"),
            )
            assert resp.status_code == 200
            posted = wait(lambda: fake.responses.get("ask"), 30, "the request reply", logs)[0]["text"]
            job_id = int(re.search(r"Restore request (\d+) posted", posted).group(1))  # type: ignore[union-attr]
            msg = wait(lambda: request_message(fake, job_id), 30, "the request message", logs)
            value = button_value(msg)
            # A redeploy of the web side: both stopped, started again on fresh directories.
            web_a.stop()
            web_b.stop()
            web_a, web_b = web(root, "web-a-2", env).start(), web(root, "web-b-2", env).start()
            logs += [web_a.log, web_b.log]
            # Web B shows the pending request; two leads approve at once, on A and on B.
            assert "awaiting" in web_b.command(f"status {job_id}", user="U0LEAD2").json()["text"].lower()
            clicks = [
                threading.Thread(target=click, args=(web_a, fake, msg.ts, value, "U0LEAD1", "a")),
                threading.Thread(target=click, args=(web_b, fake, msg.ts, value, "U0LEAD2", "b")),
            ]
            for t in clicks:
                t.start()
            for t in clicks:
                t.join()
            wait(
                lambda: store.get_job(job_id).status == JobStatus.QUEUED,
                30,
                "the approved restore queued",
                logs,
            )
            assert (
                store.get_job(dump.id).status == JobStatus.RUNNING
            )  # the restore waits for the target's lane

            doomed.kill()
            survivor = worker(root, "worker-2", env)
            logs.append(survivor.log)
            with running(survivor):
                wait(
                    lambda: store.get_job(dump.id).status == JobStatus.INTERRUPTED,
                    60,
                    "the dump interrupted",
                    logs,
                )
                final = wait(
                    lambda: store.get_job(job_id).status.terminal and store.get_job(job_id),
                    180,
                    "the restore",
                    logs,
                )
            web_a.stop()
            web_b.stop()
        assert final.status == JobStatus.SUCCEEDED, final.error
        assert final.worker.split(":")[1] == str(survivor.proc.pid if survivor.proc else "")
        audit = store.audit_rows(job_id)
        assert [r["to_status"] for r in audit if r["to_status"] == "running"] == ["running"]
        approvals = list(store.db.query("SELECT user FROM approvals WHERE job_id = ?", [job_id]))
        assert len(approvals) >= 1
        assert [r["event"] for r in audit].count("lock_acquired") >= 1
        assert store.lock_holder("restore:staging") is None
        assert scene.hook_calls().count("migrate") == 1  # the runbook ran once
        assert pg.table_checksums(scene.target_url) == pg.table_checksums(scene.source_url)
        store.close()
