"""Alerts are not lost to a crash between claiming and sending, and the reminder period is configurable."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.render import RETRY_ACTION
from core.errors import ConfigError
from jobs.events import Alert, NullReporter
from jobs.scheduler import Scheduler
from jobs.status import JobStatus
from tests.scheduler.conftest import ALERTS, SimClock
from tests.support import pg
from tests.support.backups import write_backup
from tests.support.fake_slack import FakeSlack


class DiesWhenAlerting(NullReporter):
    """The process is killed at the worst moment: the alert is claimed, nothing was sent yet."""

    def alert(self, alert: Alert) -> None:
        raise SystemExit("killed")


def test_an_alert_claimed_by_a_process_that_died_is_sent_by_the_next(
    make_cfg: Any, make_bot: Any, fake_slack: FakeSlack
) -> None:
    cfg = make_cfg(pg.url_for(f"bbt_missing_{uuid.uuid4().hex[:8]}"), schedule="* * * * *")
    bot = make_bot(cfg)
    clock = SimClock(datetime.now(UTC).replace(microsecond=0))
    dying = Scheduler(cfg, bot.store, DiesWhenAlerting(), clock=clock)
    dying.tick()
    clock.now += timedelta(seconds=61)
    [failed] = dying.tick()
    assert bot.wait_job(failed).status == JobStatus.FAILED
    with pytest.raises(SystemExit):
        dying.tick()  # claims the failure alert, then dies before handing it over

    # Another process: its follow-up sees the job handled; the alert itself is still owed.
    patient = Scheduler(cfg, bot.store, bot.reporter, clock=clock)
    patient.tick()  # too soon: the first process might still be about to send it
    bot.flush()
    assert fake_slack.messages(ALERTS) == []
    successor = Scheduler(cfg, bot.store, bot.reporter, clock=clock, redeliver_after=0)
    for _ in range(3):
        successor.tick()
        patient.tick()
    bot.flush()
    [alert] = fake_slack.messages(ALERTS)
    assert f"Scheduled backup of `prod` failed (job {failed.id})" in alert.text
    assert "<!subteam^S0ONCALL>" in alert.text
    button = next(e for b in alert.blocks if b["type"] == "actions" for e in b["elements"])
    assert (button["action_id"], button["value"]) == (RETRY_ACTION, str(failed.id))


def test_deadman_reminders_follow_the_configured_period(
    make_cfg: Any, make_bot: Any, fake_slack: FakeSlack
) -> None:
    cfg = make_cfg(pg.url_for("unused"), extra="deadman_reminder_hours = 6\n")
    assert cfg.alerts.deadman_reminder_hours == 6
    bot = make_bot(cfg, run_jobs=False)
    t0 = datetime(2026, 5, 1, 3, 0, tzinfo=UTC)
    write_backup(cfg, "prod", "daily", t0)
    clock = SimClock(t0)
    scheduler = Scheduler(cfg, bot.store, bot.reporter, clock=clock)

    def alerts_at(hours: float) -> list[str]:
        clock.now = t0 + timedelta(hours=hours)
        scheduler.tick()
        bot.flush()
        return [m.text for m in fake_slack.messages(ALERTS)]

    assert alerts_at(26) == []
    assert len(alerts_at(27)) == 1
    assert len(alerts_at(32.9)) == 1
    texts = alerts_at(33.1)
    assert len(texts) == 2 and "Reminder: still no good backup of `prod` (33 h)" in texts[-1]
    assert len(alerts_at(39.2)) == 3


def test_a_reminder_period_of_zero_is_refused(make_cfg: Any, make_bot: Any) -> None:
    # Refused when the config is loaded, before any entry point starts (core.config_checks).
    with pytest.raises(ConfigError) as err:
        make_cfg(pg.url_for("unused"), extra="deadman_reminder_hours = 0\n")
    assert "deadman_reminder_hours" in err.value.message and "[alerts]" in str(err.value.detail)
