"""A nightly schedule run minute by minute on a simulated clock, for tests that need many runs.

Each run moves the clock past the next cron slot, lets the scheduler start the job, and waits
for it in the real runner; the alerts are what the fake Slack received in the alert channel.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from jobs.job import Job
from jobs.scheduler import Scheduler
from jobs.status import JobStatus
from tests.scheduler.conftest import ALERTS, SimClock
from tests.support import pg
from tests.support.fake_slack import FakeSlack


@dataclass
class Nightly:
    cfg: Any
    bot: Any
    clock: SimClock
    scheduler: Scheduler
    fake_slack: FakeSlack
    good_url: str
    monkeypatch: pytest.MonkeyPatch

    def run(self, by: Scheduler, status: JobStatus, follow_up: bool = False) -> Job:
        """The next slot's job, finished with ``status``; ``follow_up`` ticks once more for its alert."""
        self.clock.now += timedelta(seconds=61)
        [job] = by.tick()
        assert self.bot.wait_job(job).status == status
        if follow_up:
            by.tick()
        return job

    def breaks(self) -> None:
        """The next dumps fail: the database the dump URL names does not exist."""
        self.monkeypatch.setenv("PROD_DUMP_URL", pg.url_for(f"bbt_missing_{uuid.uuid4().hex[:8]}"))

    def heals(self) -> None:
        self.monkeypatch.setenv("PROD_DUMP_URL", self.good_url)

    def alerts(self) -> list[str]:
        self.bot.flush()
        return [m.text for m in self.fake_slack.messages(ALERTS)]


def every_minute(
    pg_db: str, make_cfg: Any, make_bot: Any, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> Nightly:
    """A schedule of every minute whose first tick has run; the dump URL starts broken."""
    cfg = make_cfg(pg.url_for(f"bbt_missing_{uuid.uuid4().hex[:8]}"), schedule="* * * * *")
    bot = make_bot(cfg)
    clock = SimClock(datetime.now(UTC).replace(microsecond=0))
    scheduler = Scheduler(cfg, bot.store, bot.reporter, clock=clock)
    scheduler.tick()
    return Nightly(cfg, bot, clock, scheduler, fake_slack, pg_db, monkeypatch)
