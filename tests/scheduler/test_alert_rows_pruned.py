"""Old delivered alert rows are deleted from the store; undelivered ones stay, and no streak depends on a row.

``schedule_alerts`` is stamped with wall-clock time, like redelivery, so the keep period
is driven the way redelivery's wait is: through the scheduler's setting (90 days by
default, 0 here to stand for "long ago").
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from jobs.alerts import KEEP_DELIVERED
from jobs.events import Alert, NullReporter
from jobs.schedule_runs import PENDING_ALERTS
from jobs.scheduler import Scheduler
from jobs.status import JobStatus
from jobs.store import Store
from tests.scheduler.nightly import every_minute
from tests.support.fake_slack import FakeSlack

pytestmark = pytest.mark.usefixtures("state_backend")  # the store's suite runs on SQLite and PostgreSQL


class DiesWhenAlerting(NullReporter):
    """The process is killed after claiming an alert and before handing it over."""

    def alert(self, alert: Alert) -> None:
        raise SystemExit("killed")


def alert_rows(store: Store) -> dict[str, bool]:
    """Each alert row's key, and whether it was handed over to Slack."""
    rows = store.db.query(f"SELECT key, handed_at FROM {PENDING_ALERTS}")
    return {r["key"]: r["handed_at"] is not None for r in rows}


def test_delivered_rows_go_after_the_keep_period_undelivered_stay_and_recovery_still_comes(
    pg_db: str,
    backup_key: str,
    make_cfg: Any,
    make_bot: Any,
    fake_slack: FakeSlack,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert KEEP_DELIVERED == timedelta(days=90)
    night = every_minute(pg_db, make_cfg, make_bot, fake_slack, monkeypatch)
    cfg, bot, clock, scheduler = night.cfg, night.bot, night.clock, night.scheduler
    next_run, alerts = night.run, night.alerts

    # Two failed nightlies: the first alert reaches Slack, the second's process dies before sending it.
    first = next_run(scheduler, JobStatus.FAILED)
    scheduler.tick()
    dying = Scheduler(cfg, bot.store, DiesWhenAlerting(), clock=clock)
    second = next_run(dying, JobStatus.FAILED)
    with pytest.raises(SystemExit):
        dying.tick()
    owed = f"job-failed:{second.id}"
    assert alert_rows(bot.store) == {f"job-failed:{first.id}": True, owed: False}
    assert len(alerts()) == 1

    # Within the keep period nothing goes.
    Scheduler(cfg, bot.store, bot.reporter, clock=clock).tick()
    assert len(alert_rows(bot.store)) == 2

    # Past it, the delivered row goes; the one still owed to the channel stays.
    Scheduler(cfg, bot.store, bot.reporter, clock=clock, keep_delivered=timedelta(0)).tick()
    assert alert_rows(bot.store) == {owed: False}

    # The failing streak was never kept in those rows: the next good run still says it recovered, once.
    night.heals()
    good = next_run(scheduler, JobStatus.SUCCEEDED)
    scheduler.tick()
    recovered = [t for t in alerts() if "works again" in t]
    assert len(recovered) == 1 and f"job {good.id}" in recovered[0]

    # The owed alert is still delivered, and then tidied like the rest.
    Scheduler(cfg, bot.store, bot.reporter, clock=clock, redeliver_after=0).tick()
    assert any(f"Scheduled backup of `prod` failed (job {second.id})" in t for t in alerts())
    assert alert_rows(bot.store)[owed] is True
    Scheduler(cfg, bot.store, bot.reporter, clock=clock, keep_delivered=timedelta(0)).tick()
    assert alert_rows(bot.store) == {}
    assert len(alerts()) == 3  # first failure, recovery, second failure — nothing repeated
