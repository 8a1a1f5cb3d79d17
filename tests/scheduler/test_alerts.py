"""What the on-call people see: a failed nightly, its recovery, a stalled schedule, the guard."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters.storage import open_storage
from bot.listeners.actions.jobs import retry_clicked
from bot.render import RETRY_ACTION
from bot.services import Services
from cli.main import main as cli_main
from commands.base import Invocation
from commands.grammar import dispatch
from commands.permissions import GroupDirectory
from jobs.scheduler import Scheduler
from jobs.status import JobStatus
from jobs.store import Store
from tests.scheduler.conftest import ALERTS, JOBS, SimClock
from tests.support import pg
from tests.support.backups import stored_ids, write_backup
from tests.support.fake_slack import FakeSlack

pytestmark = pytest.mark.usefixtures("state_backend")  # the store's suite runs on SQLite and PostgreSQL


def alerts(fake: FakeSlack) -> list[Any]:
    return fake.messages(ALERTS)


def test_failed_nightly_alerts_oncall_guard_holds_and_retry_recovers(
    realistic_db: str,
    backup_key: str,
    make_cfg: Any,
    make_bot: Any,
    fake_slack: FakeSlack,
    heartbeat: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Every minute, so the simulated clock stays next to the wall clock the real dumps stamp.
    missing = pg.url_for(f"bbt_missing_{uuid.uuid4().hex[:8]}")
    cfg = make_cfg(missing, schedule="* * * * *", heartbeat_url=heartbeat.url)
    now = datetime.now(UTC).replace(microsecond=0)
    storage = open_storage(cfg.storage)
    history = {
        write_backup(cfg, "prod", "daily", now - timedelta(hours=2, days=k), storage).id for k in range(20)
    }
    bot = make_bot(cfg)
    clock = SimClock(now)
    scheduler = Scheduler(cfg, bot.store, bot.reporter, clock=clock)
    scheduler.tick()

    # The nightly fails: the database does not exist.
    clock.now = now + timedelta(seconds=61)
    [failed] = scheduler.tick()
    assert bot.wait_job(failed).status == JobStatus.FAILED
    scheduler.tick()
    bot.flush()
    [alert] = alerts(fake_slack)
    assert "<!subteam^S0ONCALL>" in alert.text
    assert f"Scheduled backup of `prod` failed (job {failed.id})" in alert.text
    error = bot.store.get_job(failed.id).error
    assert error["message"] in alert.text and error["hint"] in alert.text
    button = next(e for b in alert.blocks if b["type"] == "actions" for e in b["elements"])
    assert (button["action_id"], button["value"]) == (RETRY_ACTION, str(failed.id))
    assert heartbeat.hits == []

    # With the last run failed, prune deletes nothing — from the CLI, from Slack, or on its own.
    assert cli_main(["prune", "--database", "prod", "--confirm"]) == 0
    out = capsys.readouterr().out
    assert "pruning guard" in out and "latest scheduled backup failed" in out
    inv = Invocation(user="ULEAD", channel="C1", cfg=cfg, store=bot.store, directory=GroupDirectory(None))
    reply = dispatch("prune prod", inv)
    assert reply.later is not None and "pruning guard" in reply.later().text
    assert stored_ids(cfg, "prod", storage) == history

    # Someone fixes the URL and presses Retry: the retry succeeds and the channel hears so.
    monkeypatch.setenv("PROD_DUMP_URL", realistic_db)
    services = Services(
        cfg=cfg, store=bot.store, reporter=bot.reporter, directory=GroupDirectory(None), runner=bot.runner
    )
    replies: list[dict[str, Any]] = []
    retry_clicked(
        lambda *a, **k: None,
        {"actions": [{"value": button["value"]}], "user": {"id": "U1"}, "channel": {"id": ALERTS}},
        {"services": services},  # type: ignore[arg-type]
        lambda **kw: replies.append(kw),
    )
    assert "retry of job" in replies[0]["text"]
    retry = bot.store.list_jobs(kind="dump", limit=1)[0]
    assert retry.id != failed.id and retry.params["schedule"] == "dump:prod"
    assert bot.wait_job(retry).status == JobStatus.SUCCEEDED
    scheduler.tick()
    bot.flush()
    recovered = alerts(fake_slack)[-1]
    assert len(alerts(fake_slack)) == 2
    assert "works again" in recovered.text and f"job {retry.id}" in recovered.text
    assert "<!subteam^S0ONCALL>" in recovered.text
    assert len(heartbeat.hits) == 1
    # Retention ran after the good backup: the policy's set is left, the new backup in it.
    new_id = bot.store.get_job(retry.id).result["backup_id"]
    after = stored_ids(cfg, "prod", storage)
    assert new_id in after and len(after) <= 9 and len(after) < len(history)

    # The next scheduled run is good too: no second recovery, no alert.
    clock.now += timedelta(seconds=60)
    [nxt] = scheduler.tick()
    assert bot.wait_job(nxt).status == JobStatus.SUCCEEDED
    scheduler.tick()
    bot.flush()
    assert len(alerts(fake_slack)) == 2
    assert len(heartbeat.hits) == 2
    calls = json.dumps([c.params for c in fake_slack.api_calls()])
    assert "secret-check-id" not in calls and backup_key not in calls


def test_twenty_seven_hours_without_a_good_backup_alert_once(
    make_cfg: Any, make_bot: Any, fake_slack: FakeSlack
) -> None:
    cfg = make_cfg(pg.url_for("unused"))
    bot = make_bot(cfg, run_jobs=False)
    t0 = datetime(2026, 5, 1, 3, 0, tzinfo=UTC)
    write_backup(cfg, "prod", "daily", t0)
    clock = SimClock(t0 + timedelta(minutes=10))
    scheduler = Scheduler(cfg, bot.store, bot.reporter, clock=clock)
    other_process = Scheduler(cfg, Store.for_config(cfg), bot.reporter, clock=clock)

    def at(hours: float, *schedulers: Scheduler) -> list[Any]:
        clock.now = t0 + timedelta(hours=hours)
        for s in schedulers or (scheduler,):
            s.tick()
        bot.flush()
        return alerts(fake_slack)

    assert at(0.2) == [] and at(12) == [] and at(25) == [] and at(26) == []
    [stale] = at(27)
    assert "<!subteam^S0ONCALL>" in stale.text and "No good backup of `prod` for 27 h" in stale.text
    assert "prod-20260501T030000Z-daily" in stale.text and "/backup dump prod" in stale.text
    for hours in (27.2, 28, 30, 40, 50):
        assert len(at(hours, scheduler, other_process)) == 1
    reminder = at(51.1, scheduler, other_process)
    assert len(reminder) == 2 and "Reminder: still no good backup of `prod`" in reminder[-1].text
    assert len(at(60, scheduler, other_process)) == 2

    write_backup(cfg, "prod", "manual", t0 + timedelta(hours=61))
    fresh = at(61.2, scheduler, other_process)
    assert len(fresh) == 3 and "fresh again" in fresh[-1].text
    assert len(at(62, scheduler, other_process)) == 3
    other_process.store.close()
    # The scheduled jobs queued meanwhile (no runner here) were posted to the jobs channel, not as alerts.
    assert fake_slack.messages(JOBS)
