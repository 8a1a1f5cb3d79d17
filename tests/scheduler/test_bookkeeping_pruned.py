"""The scheduler's bookkeeping (kv claims, slots, follow-ups) is deleted after its keep period; streaks still work.

Rows are stamped with wall-clock time, so "long ago" is stood for by a keep period of 0,
as in test_alert_rows_pruned.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from jobs.housekeeping import KEEP
from jobs.schedule_runs import FOLLOWUPS, TABLE
from jobs.scheduler import Scheduler
from jobs.status import JobStatus
from jobs.store import Store
from tests.scheduler.nightly import every_minute
from tests.support.fake_slack import FakeSlack

pytestmark = pytest.mark.usefixtures("state_backend")  # the store's suite runs on SQLite and PostgreSQL


def counts(store: Store) -> dict[str, int]:
    return {
        "kv": store.db.execute("SELECT count(*) FROM kv").fetchone()[0],
        "slots": store.db.execute(f"SELECT count(*) FROM {TABLE}").fetchone()[0],
        "followups": store.db.execute(f"SELECT count(*) FROM {FOLLOWUPS}").fetchone()[0],
    }


def kv_keys(store: Store) -> set[str]:
    return {r["key"] for r in store.db.query("SELECT key FROM kv")}


def test_old_bookkeeping_goes_and_nothing_repeats(
    pg_db: str,
    backup_key: str,
    make_cfg: Any,
    make_bot: Any,
    fake_slack: FakeSlack,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert KEEP == timedelta(days=90)
    night = every_minute(pg_db, make_cfg, make_bot, fake_slack, monkeypatch)
    cfg, bot, clock, scheduler = night.cfg, night.bot, night.clock, night.scheduler

    # A failing streak and its recovery, three times: claims, slots and follow-ups pile up.
    for _round in range(3):
        night.breaks()
        night.run(scheduler, JobStatus.FAILED, follow_up=True)
        night.heals()
        night.run(scheduler, JobStatus.SUCCEEDED, follow_up=True)
    alerts = night.alerts
    assert len([t for t in alerts() if "works again" in t]) == 3 and len(alerts()) == 6
    before = counts(bot.store)
    assert before["slots"] == 6 and before["followups"] == 6
    assert len([k for k in kv_keys(bot.store) if ":recovered:" in k]) == 3

    # Within the keep period nothing goes.
    Scheduler(cfg, bot.store, bot.reporter, clock=clock).housekeeping()
    assert counts(bot.store) == before

    # Past it: the claims of finished streaks, the ended streak's null state, all slots but the
    # newest and the follow-ups of finished jobs go; the watch start of the schedule stays.
    old = Scheduler(cfg, bot.store, bot.reporter, clock=clock, keep_bookkeeping=timedelta(0))
    old.housekeeping()
    after = counts(bot.store)
    assert after["slots"] == 1 and after["followups"] == 0
    assert [k for k in kv_keys(bot.store) if ":watching:" in k] and not [
        k for k in kv_keys(bot.store) if ":recovered:" in k or k.endswith(":failing")
    ]

    # Nothing repeats: no finished job is followed up again, no slot runs twice.
    old.tick()
    assert old.tick() == [] and len(alerts()) == 6
    # The streak logic still works: a new failure alerts once, its recovery is said once.
    night.breaks()
    failed = night.run(old, JobStatus.FAILED, follow_up=True)
    night.heals()
    good = night.run(old, JobStatus.SUCCEEDED, follow_up=True)
    old.tick()
    texts = alerts()
    assert len(texts) == 8
    assert f"(job {failed.id})" in texts[-2] and "works again" in texts[-1] and f"job {good.id}" in texts[-1]
