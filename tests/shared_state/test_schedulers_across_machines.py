"""Two workers with their schedulers on separate machines: each slot runs once, each alert is
sent once, and the failing streak survives a redeploy onto fresh directories."""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.render import RETRY_ACTION
from core.config import load_config
from jobs.events import NullReporter
from jobs.scheduler import Scheduler
from jobs.status import JobStatus
from jobs.store import Store
from tests.bot.conftest import SECRET
from tests.shared_state.machines import base_env, running, web, worker, write_config
from tests.shared_state.test_many_machines import wait
from tests.support import pg
from tests.support.fake_slack import FakeSlack
from tests.support.s3server import S3Server
from tests.support.slack_signing import action_body, post_signed


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    f = FakeSlack()
    yield f
    f.stop()


def failed_alerts(fake: FakeSlack) -> list[str]:
    return [m.text for m in fake.messages() if "Scheduled backup of `broken` failed" in m.text]


def test_two_schedulers_one_job_per_slot_one_alert_and_the_streak_survives_a_redeploy(
    tmp_path: Path, s3_server: S3Server, fake: FakeSlack, pg_db: str, backup_key: str
) -> None:
    missing = pg.url_for(f"bbt_missing_{uuid.uuid4().hex[:8]}")
    config = write_config(
        tmp_path / "backupbot.toml",
        s3_server.new_bucket(),
        s3_server.endpoint_url,
        [],
        extra='\n[databases.good]\ndump_url_env = "APP_URL"\nschedule = "* * * * *"\n'
        '\n[databases.broken]\ndump_url_env = "BROKEN_URL"\nschedule = "* * * * *"\n',
    )
    with pg.temp_database("bbstate") as state_url:
        env = base_env(config, state_url, backup_key, fake, pg_db)
        env["BROKEN_URL"] = missing
        schedulers = {**env, "BACKUPBOT_SCHEDULER": "on"}
        store = Store(tmp_path / "observer", url=state_url)
        # An earlier scheduler watched these entries two minutes ago, so the current slot is due now.
        Scheduler(
            load_config(str(config)),
            store,
            NullReporter(),
            clock=lambda: datetime.now(UTC) - timedelta(minutes=2),
        ).tick()
        machines = [worker(tmp_path, "worker-1", schedulers), worker(tmp_path, "worker-2", schedulers)]
        logs = [m.log for m in machines]
        with running(*machines):
            wait(
                lambda: (
                    {j.database for j in store.list_jobs(kind="dump", limit=50) if j.status.terminal}
                    >= {"good", "broken"}
                ),
                120,
                "both scheduled dumps to end",
                logs,
            )
            wait(lambda: failed_alerts(fake), 60, "the failure alert", logs)
            wait(
                lambda: (
                    store.list_jobs(kind="dump", limit=50)
                    and all(j.status.terminal for j in store.list_jobs(kind="dump", limit=50))
                ),
                120,
                "quiet",
                logs,
            )
            # A run that spans a minute boundary fails two slots of `broken`: each alert is sent
            # once per job, and the later one may still be on its way when the jobs have ended.
            wait(
                lambda: (
                    len(failed_alerts(fake))
                    >= sum(1 for j in store.list_jobs(kind="dump", limit=50) if j.database == "broken")
                ),
                60,
                "an alert for each failed slot",
                logs,
            )
        jobs = store.list_jobs(kind="dump", limit=50)
        per_slot = Counter((j.database, j.params["slot"]) for j in jobs)
        assert set(per_slot.values()) == {1}, per_slot
        slots = list(
            store.db.query("SELECT entry, slot, count(*) AS n FROM schedule_slots GROUP BY entry, slot")
        )
        assert slots and all(r["n"] == 1 for r in slots)
        assert len(failed_alerts(fake)) == len({s for (d, s) in per_slot if d == "broken"})
        failed = next(j for j in jobs if j.database == "broken")
        assert failed.status == JobStatus.FAILED
        assert store.kv_get("schedule:dump:broken:failing")

        # Redeploy on fresh directories with the URL fixed; a Retry click on the new web process.
        env["BROKEN_URL"] = pg_db
        front = web(tmp_path, "web-2", env)
        again = [
            worker(tmp_path, "worker-3", {**env, "BACKUPBOT_SCHEDULER": "on"}),
            worker(tmp_path, "worker-4", env),
        ]
        logs = [front.log, *(m.log for m in again)]
        with running(front, *again):
            assert "failed" in front.command(f"status {failed.id}").json()["text"]
            body = action_body(
                RETRY_ACTION,
                str(failed.id),
                user="U1",
                channel="C1",
                response_url=fake.response_url("retry"),
                message_ts="1.0",
            )
            assert post_signed(front.url, SECRET, body).status_code == 200
            recovered = wait(
                lambda: [m.text for m in fake.messages() if "works again" in m.text],
                120,
                "the recovery message",
                logs,
            )
            assert re.search(r"broken", recovered[0])
        assert len([m for m in fake.messages() if "works again" in m.text]) == 1
        store.close()
