"""The pruning guard during scheduled retention reaches on-call: once per streak, then 'runs again'.

The streak here comes from a real fault: the host that runs jobs has a clock two days
slow, so every nightly is stamped two days old and the guard's age rule holds every night.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from jobs.scheduler import Scheduler
from jobs.status import JobStatus
from tests.scheduler.conftest import ALERTS, SimClock
from tests.support.backups import stored_ids, write_backup
from tests.support.fake_slack import FakeSlack

START = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


class SlowClock:
    """A worker host's clock: the simulated time minus ``lag``."""

    def __init__(self, clock: SimClock, lag: timedelta) -> None:
        self.clock, self.lag = clock, lag

    def __call__(self) -> datetime:
        return self.clock() - self.lag


def test_guard_held_nights_alert_once_and_say_when_pruning_resumes(
    pg_db: str, backup_key: str, make_cfg: Any, make_bot: Any, fake_slack: FakeSlack
) -> None:
    with psycopg.connect(pg_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (id int)")
    cfg = make_cfg(pg_db, local_storage=True)
    history = {
        write_backup(cfg, "prod", "daily", START - timedelta(days=k, hours=-1)).id for k in range(3, 20)
    }
    clock = SimClock(START)
    worker_clock = SlowClock(clock, timedelta(days=2))
    bot = make_bot(cfg, clock=worker_clock)
    scheduler = Scheduler(cfg, bot.store, bot.reporter, clock=clock)
    scheduler.tick()

    def night(day: int) -> Any:
        clock.now = START + timedelta(days=day, hours=1, seconds=30)
        [job] = scheduler.tick()
        assert bot.wait_job(job).status == JobStatus.SUCCEEDED
        scheduler.tick()
        bot.flush()
        return job

    def held_alerts() -> list[Any]:
        return [m for m in fake_slack.messages(ALERTS) if "Retention of `prod` is on hold" in m.text]

    first = night(0)
    [held] = held_alerts()
    assert "<!subteam^S0ONCALL>" in held.text and f"after job {first.id}" in held.text
    assert "nothing was pruned on 'prod'" in held.text and "h old (limit 26 h)" in held.text
    assert "would delete were kept" in held.text and "clock of the host that runs jobs" in held.text
    thread = " ".join(m.text for m in fake_slack.thread(bot.store.get_job(first.id).message_ts))
    assert "pruning guard" in thread
    for day in (1, 2):
        night(day)
    assert len(held_alerts()) == 1  # three held nights, one alert
    assert history <= stored_ids(cfg, "prod")  # nothing was deleted meanwhile

    worker_clock.lag = timedelta(0)  # someone fixes the worker's clock (NTP)
    fixed = night(3)
    resumed = [m for m in fake_slack.messages(ALERTS) if "Retention of `prod` runs again" in m.text]
    assert len(resumed) == 1 and f"job {fixed.id}" in resumed[0].text and "deleted" in resumed[0].text
    assert len(stored_ids(cfg, "prod")) <= 9
    night(4)
    assert len(held_alerts()) == 1
    assert len([m for m in fake_slack.messages(ALERTS) if "runs again" in m.text]) == 1
