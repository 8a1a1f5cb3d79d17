"""Forty simulated days of the nightly schedule against the local S3 server.

The scheduler, runner, follow-ups and prune are the real code, driven by a settable
clock. Only the dump job is swapped for one that stamps backups with the simulated
time: on a few days it is a real pg_dump through ``engine.dump.run_dump(now=...)``, on
the others a manifest and a small object written through the real storage adapter
(forty real dumps would only make the test slow, not truer).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters.storage import open_storage
from engine.dump import run_dump
from jobs import kinds
from jobs.context import JobContext
from jobs.events import Outcome
from jobs.kinds import JobKind
from jobs.scheduler import Scheduler
from jobs.status import JobStatus
from tests.scheduler.conftest import ALERTS, JOBS, SimClock
from tests.support.backups import object_ids, stored_ids, write_backup

START = datetime(2026, 1, 1, 2, 0, tzinfo=UTC)
REAL_DUMP_DAYS = {0, 20, 38, 39}
PRE_EVENT_EVERY = 3  # a pre-migration dump every third afternoon


def test_forty_nights_leave_exactly_the_policys_set(
    realistic_db: str,
    backup_key: str,
    make_cfg: Any,
    make_bot: Any,
    heartbeat: Any,
    fake_slack: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cfg = make_cfg(realistic_db, heartbeat_url=heartbeat.url)
    bot = make_bot(cfg)
    clock = SimClock(START)
    storage = open_storage(cfg.storage)
    real_ids: list[str] = []

    def simulated_dump(ctx: JobContext) -> Outcome:
        day = (clock.now - START).days
        kind = ctx.job.params["kind"]
        if day in REAL_DUMP_DAYS:
            m = run_dump(ctx.cfg, ctx.database, kind=kind, requested_by="scheduler", now=clock.now)
            real_ids.append(m.id)
        else:
            m = write_backup(ctx.cfg, ctx.database, kind, clock.now, storage)
        return Outcome(summary=f"Backup `{m.id}` stored", data={"backup_id": m.id})

    monkeypatch.setitem(kinds._loaded, "dump", JobKind("dump", simulated_dump))
    scheduler = Scheduler(cfg, bot.store, bot.reporter, clock=clock)
    scheduler.tick()  # starts watching at 02:00 on Jan 1

    pre_event: dict[str, datetime] = {}
    for day in range(40):
        clock.now = START + timedelta(days=day, hours=1, seconds=30)  # 03:00:30, just after the slot
        [job] = scheduler.tick()
        assert bot.wait_job(job).status == JobStatus.SUCCEEDED
        scheduler.tick()  # follow-up: retention and heartbeat
        if day % PRE_EVENT_EVERY == 0:
            t = START + timedelta(days=day, hours=13)
            pre_event[write_backup(cfg, "prod", "pre-migration", t, storage).id] = t
        # Never more than the policy allows at any point: 7 daily + 2 monthly + pre-event.
        scheduled = [i for i in stored_ids(cfg, "prod", storage) if i.endswith("-daily")]
        assert len(scheduled) <= 9

    now = clock.now  # Feb 9, 03:00:30
    dailies = {f"prod-202602{d:02d}T030030Z-daily" for d in range(3, 10)}
    monthly = {"prod-20260131T030030Z-daily"}  # newest of January; February's newest is a daily
    young_pre_event = {i for i, t in pre_event.items() if now - t < timedelta(days=30)}
    # The last pre-event dump was taken after the last prune; the rest were pruned by age.
    assert young_pre_event and len(young_pre_event) < len(pre_event)
    assert stored_ids(cfg, "prod") == dailies | monthly | young_pre_event
    assert object_ids(cfg, "prod") == dailies | monthly | young_pre_event
    assert set(real_ids[-2:]) <= dailies  # the real dumps of the last two nights are kept
    assert len(heartbeat.hits) == 40 and all(h == "/ping/secret-check-id" for h in heartbeat.hits)

    # What people saw: a message per nightly with retention's result in its thread; no alerts.
    bot.flush()
    fake = fake_slack
    nightly = [m for m in fake.messages(JOBS) if "Backup of `prod`" in m.text or "Backup of prod" in m.text]
    assert len(nightly) == 40
    last_thread = " ".join(m.text for m in fake.thread(nightly[-1].ts))
    assert "retention: ok" in last_thread and "deleted" in last_thread
    assert fake.messages(ALERTS) == []
