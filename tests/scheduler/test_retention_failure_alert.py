"""Retention that fails after a good nightly reaches on-call: once per streak, then 'works again'.

The faults are real and outside our code: a bucket policy on the S3 server denies
s3:DeleteObject under the backups' prefix (a tightened IAM policy), and a proxy in front of
the server answers 503 to bucket listings (S3 having a bad night). The nightly's own writes
go through, so each backup is good and only the clean-up after it fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from core.config import Config, load_config
from engine.catalog import list_backups
from jobs.schedule_runs import PENDING_ALERTS
from jobs.scheduler import Scheduler
from jobs.status import JobStatus
from tests.scheduler.conftest import ALERTS, Bot, SimClock
from tests.scheduler.s3_faults import ListingOutage, allow_deletes, deny_deletes
from tests.support.backups import stored_ids, write_backup
from tests.support.fake_slack import FakeSlack
from tests.support.s3server import S3Server

START = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


@pytest.fixture
def outage(s3_server: S3Server) -> Iterator[ListingOutage]:
    proxy = ListingOutage(s3_server.endpoint_url)
    yield proxy
    proxy.stop()


def through(cfg: Config, s3_server: S3Server, outage: ListingOutage) -> Config:
    """The same config, talking to S3 through the proxy and giving up after 2 attempts per request."""
    path = Path(cfg.path)
    text = path.read_text().replace(s3_server.endpoint_url, outage.endpoint_url)
    path.write_text(text.replace("[storage]\n", "[storage]\nmax_attempts = 2\n", 1))
    return load_config(str(path))


class Nights:
    """Each call runs one nightly at 03:00:30 of START + ``day`` through the scheduler and the runner."""

    def __init__(self, cfg: Config, bot: Bot, clock: SimClock, fake: FakeSlack) -> None:
        self.cfg, self.bot, self.clock, self.fake = cfg, bot, clock, fake
        self.scheduler = Scheduler(cfg, bot.store, bot.reporter, clock=clock)
        self.scheduler.tick()  # starts watching at 02:00 on START

    def __call__(self, day: int) -> Any:
        self.clock.now = START + timedelta(days=day, hours=1, seconds=30)
        [job] = self.scheduler.tick()
        assert self.bot.wait_job(job).status == JobStatus.SUCCEEDED
        self.scheduler.tick()  # follow-up: retention
        self.bot.flush()
        return self.bot.store.get_job(job.id)

    def retention_alerts(self) -> list[Any]:
        return [m for m in self.fake.messages(ALERTS) if "Retention of `prod`" in m.text]

    def thread(self, job: Any) -> str:
        return " ".join(m.text for m in self.fake.thread(job.message_ts))


def small_database(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL)")
        conn.execute("INSERT INTO notes (body) SELECT 'note ' || g FROM generate_series(1, 20) g")


def test_refused_deletes_alert_once_per_streak_and_say_when_retention_works_again(
    pg_db: str,
    backup_key: str,
    make_cfg: Any,
    make_bot: Any,
    fake_slack: FakeSlack,
    s3_server: S3Server,
    s3_bucket: str,
    outage: ListingOutage,
) -> None:
    small_database(pg_db)
    cfg = through(make_cfg(pg_db), s3_server, outage)
    history = {
        write_backup(cfg, "prod", "daily", START - timedelta(days=k, hours=-1)).id for k in range(1, 20)
    }
    clock = SimClock(START)
    bot = make_bot(cfg, clock=clock)
    night = Nights(cfg, bot, clock, fake_slack)
    deny_deletes(s3_server, s3_bucket, "bb/db/")

    first = night(0)
    new_id = first.result["backup_id"]
    assert new_id in {m.id for m in list_backups(cfg, "prod")}  # the backup itself is fine and listed
    assert history <= stored_ids(cfg, "prod")  # nothing was deleted
    assert "prod: 7 kept, 13 failed to delete" in night.thread(first)
    [alert] = fake_slack.messages(ALERTS)
    assert "<!subteam^S0ONCALL>" in alert.text
    assert f"Retention of `prod` failed after job {first.id}" in alert.text
    assert "the new backup is fine" in alert.text and f"`{new_id}` is stored and listed" in alert.text
    assert "retention of 'prod' could not delete 13 of 13 old backup(s)" in alert.text
    assert "storage refused to delete" in alert.text  # what storage said
    assert (
        "s3:DeleteObject" in alert.text
        and "`/backup prune prod`" in alert.text
        and "backupbot prune" not in alert.text
    )

    # The delivered alert's row may be tidied away; the streak is not kept in it.
    sweeper = Scheduler(cfg, bot.store, bot.reporter, clock=clock, keep_delivered=timedelta(0))
    assert sweeper.housekeeping() >= 1
    assert not list(
        bot.store.db.query(f"SELECT key FROM {PENDING_ALERTS} WHERE key LIKE 'retention-failed:%'")
    )

    second = night(1)
    assert "failed to delete" in night.thread(second)
    outage.failing = True  # a different failure, same streak: S3 cannot even list the bucket
    third = night(2)
    outage.failing = False
    assert outage.refused >= 2 and "storage kept failing to list" in night.thread(third)
    assert len(fake_slack.messages(ALERTS)) == 1  # three failing nights, one alert
    assert history <= stored_ids(cfg, "prod")

    allow_deletes(s3_server, s3_bucket)  # someone fixes the policy
    fixed = night(3)
    [_, works] = night.retention_alerts()
    assert f"Retention of `prod` works again (job {fixed.id})" in works.text
    assert "deleted" in works.text and "It had been failing since 2026-03-01 03:00 UTC" in works.text
    after = stored_ids(cfg, "prod")
    assert fixed.result["backup_id"] in after and len(after) <= 9 and not history <= after
    night(4)
    assert len(fake_slack.messages(ALERTS)) == 2


def test_retention_that_cannot_list_the_bucket_alerts_with_what_to_check(
    pg_db: str,
    backup_key: str,
    make_cfg: Any,
    make_bot: Any,
    fake_slack: FakeSlack,
    s3_server: S3Server,
    outage: ListingOutage,
) -> None:
    small_database(pg_db)
    cfg = through(make_cfg(pg_db), s3_server, outage)
    write_backup(cfg, "prod", "daily", START - timedelta(hours=23))
    clock = SimClock(START)
    bot = make_bot(cfg, clock=clock)
    night = Nights(cfg, bot, clock, fake_slack)

    outage.failing = True
    job = night(0)
    outage.failing = False
    [alert] = fake_slack.messages(ALERTS)
    assert f"Retention of `prod` failed after job {job.id}" in alert.text
    assert "retention of 'prod' did not run: storage kept failing to list" in alert.text
    assert "No old backup was deleted" in alert.text and "the bucket answers" in alert.text
    assert "`/backup prune prod`" in alert.text and "backupbot prune" not in alert.text
    assert job.result["backup_id"] in {m.id for m in list_backups(cfg, "prod")}
    assert "storage kept failing to list" in night.thread(job)
