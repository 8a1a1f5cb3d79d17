"""Forty simulated nights of the schedule against a real database.

Nothing of ours is replaced: the scheduler queues each slot, the runner runs the real
``dump`` job kind (pg_dump → zstd → encrypt → store), and retention prunes after each
good nightly. The one thing the test controls is the clock, which the runner hands to
every job and the dump kind uses as the backup's time. The database is small and the
backups go to the ``file://`` storage adapter, so a night costs a fraction of a second;
pruning against S3 (deletes, Object Lock) is tested in tests/retention/.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from adapters.storage import open_storage
from engine.catalog import get_backup
from engine.decrypt import iter_plain
from engine.dump import run_dump
from jobs.scheduler import Scheduler
from jobs.status import JobStatus
from tests.scheduler.conftest import ALERTS, JOBS, SimClock
from tests.support.backups import object_ids, stored_ids, without_nonce

START = datetime(2026, 1, 1, 2, 0, tzinfo=UTC)
PRE_EVENT_EVERY = 3  # a pre-migration dump every third afternoon


def small_database(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL)")
        conn.execute("INSERT INTO notes (body) SELECT 'note ' || g FROM generate_series(1, 50) g")


def test_forty_nights_leave_exactly_the_policys_set(
    pg_db: str,
    backup_key: str,
    make_cfg: Any,
    make_bot: Any,
    heartbeat: Any,
    fake_slack: Any,
) -> None:
    small_database(pg_db)
    cfg = make_cfg(pg_db, heartbeat_url=heartbeat.url, local_storage=True)
    clock = SimClock(START)
    bot = make_bot(cfg, clock=clock)
    storage = open_storage(cfg.storage)
    scheduler = Scheduler(cfg, bot.store, bot.reporter, clock=clock)
    scheduler.tick()  # starts watching at 02:00 on Jan 1

    pre_event: dict[str, datetime] = {}
    for day in range(40):
        clock.now = START + timedelta(days=day, hours=1, seconds=30)  # 03:00:30, just after the slot
        [job] = scheduler.tick()
        done = bot.wait_job(job)
        assert done.status == JobStatus.SUCCEEDED, done.error
        assert without_nonce(done.result["backup_id"]) == f"prod-{clock.now:%Y%m%dT%H%M%S}Z-daily"
        scheduler.tick()  # follow-up: retention and heartbeat
        if day % PRE_EVENT_EVERY == 0:
            t = START + timedelta(days=day, hours=13)
            pre_event[run_dump(cfg, "prod", kind="pre-migration", requested_by="deploy", now=t).id] = t
        # Never more than the policy allows at any point: 7 daily + 2 monthly + pre-event.
        scheduled = [i for i in stored_ids(cfg, "prod", storage) if without_nonce(i).endswith("-daily")]
        assert len(scheduled) <= 9

    now = clock.now  # Feb 9, 03:00:30
    dailies = {f"prod-202602{d:02d}T030030Z-daily" for d in range(3, 10)}
    monthly = {"prod-20260131T030030Z-daily"}  # newest of January; February's newest is a daily
    young_pre_event = {i for i, t in pre_event.items() if now - t < timedelta(days=30)}
    # The last pre-event dump was taken after the last prune; the rest were pruned by age.
    assert young_pre_event and len(young_pre_event) < len(pre_event)
    young_pre_event = {without_nonce(i) for i in young_pre_event}
    assert {without_nonce(i) for i in stored_ids(cfg, "prod")} == dailies | monthly | young_pre_event
    assert {without_nonce(i) for i in object_ids(cfg, "prod")} == dailies | monthly | young_pre_event
    # The oldest backup kept is a real, readable dump of the database.
    plain = b"".join(iter_plain(cfg, get_backup(cfg, "prod-20260131T030030Z-daily")))
    assert plain.startswith(b"PGDMP") and b"notes" in plain
    assert len(heartbeat.hits) == 40 and all(h == "/ping/secret-check-id" for h in heartbeat.hits)

    # What people saw: a message per nightly with retention's result in its thread; no alerts.
    bot.flush()
    fake = fake_slack
    nightly = [m for m in fake.messages(JOBS) if "Backup of `prod`" in m.text or "Backup of prod" in m.text]
    assert len(nightly) == 40
    last_thread = " ".join(m.text for m in fake.thread(nightly[-1].ts))
    assert "retention: ok" in last_thread and "deleted" in last_thread
    assert fake.messages(ALERTS) == []
