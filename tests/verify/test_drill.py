"""The monthly drill, run by the scheduler into a staging target through the whole runbook."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.listeners.actions.jobs import retry_clicked
from bot.render import RETRY_ACTION
from bot.services import Services
from commands.permissions import GroupDirectory
from core.config import load_config
from engine.dump import run_dump
from jobs.scheduler import Scheduler
from jobs.status import JobStatus
from tests.restore.conftest import make_target, write_restore_config
from tests.scheduler.conftest import SimClock
from tests.support import pg
from tests.support.fake_slack import FakeSlack
from tests.support.s3server import S3Server

JOBS, ALERTS = "C0BACKUPS", "CALERT"


def _drill(scheduler: Scheduler, clock: SimClock, at: datetime, bot: Any) -> Any:
    clock.now = at
    started = scheduler.tick()  # the drill, and the nightly dump of the nights skipped in between
    for other in started:
        bot.wait_job(other, timeout=120)
    [job] = [j for j in started if j.kind == "drill"]
    assert job.database == "app"
    done = bot.wait_job(job, timeout=120)
    scheduler.tick()  # follow-ups: the alert if it failed
    bot.flush()
    return done


def test_scheduled_drill_runs_the_runbook_reports_recovery_time_and_alerts_on_failure(
    tmp_path: Path,
    s3_server: S3Server,
    s3_bucket: str,
    backup_key: str,
    monkeypatch: pytest.MonkeyPatch,
    make_bot: Any,
    fake_slack: FakeSlack,
) -> None:
    with pg.temp_database("bbdsrc") as source, pg.temp_database("bbdstg") as staging:
        pg.fill_realistic(source, customers=80, invoices_per_customer=2)
        make_target(staging)
        path = write_restore_config(
            tmp_path,
            s3_bucket,
            s3_server.endpoint_url,
            source,
            staging,
            monkeypatch,
            target_extra='schedule = ""',
        )
        text = path.read_text().replace(
            'restore_url_env = "APP_RESTORE_URL"\n',
            'restore_url_env = "APP_RESTORE_URL"\ndrill_target = "staging"\ntimezone = "Europe/Madrid"\n',
        )
        text = text.replace(
            'channel = "C0BACKUPS"\n',
            f'channel = "{JOBS}"\nalert_channel = "{ALERTS}"\noncall_group = "S0ONCALL"\n',
        )
        path.write_text(text)
        cfg = load_config(str(path))
        backup = run_dump(cfg, "app", reason="before the drill")

        bot = make_bot(cfg)
        # First Sunday of January 2027 is the 3rd; 04:00 in Madrid is 03:00 UTC.
        clock = SimClock(datetime(2027, 1, 3, 2, 30, tzinfo=UTC))
        scheduler = Scheduler(cfg, bot.store, bot.reporter, clock=clock)
        assert [e.key for e in scheduler.entries if e.job_kind == "drill"] == ["drill:app"]
        assert scheduler.tick() == []

        job = _drill(scheduler, clock, datetime(2027, 1, 3, 3, 0, 30, tzinfo=UTC), bot)
        assert job.status == JobStatus.SUCCEEDED, job.error
        assert job.lane == "staging"  # queued behind what else writes to the drill target
        assert pg.table_checksums(staging) == pg.table_checksums(source)
        assert (tmp_path / "hooks.log").read_text().split() == ["maint-on", "migrate", "maint-off"]

        [post] = [m for m in fake_slack.messages(JOBS) if f"job {job.id}" in m.text]
        assert "Monthly restore drill of `app` passed" in post.text
        assert "Recovery time:" in post.text and "previous drill: none (first drill)" in post.text
        assert "standing approval: drill_target = 'staging' in [databases.app]" in post.text
        card = [e["text"] for b in post.blocks if b["type"] == "context" for e in b["elements"]]
        assert any("monthly restore drill into `staging` (standing approval" in t for t in card)
        thread = "\n".join(m.text for m in fake_slack.thread(post.ts))
        for line in (
            "1/8 Lock target",
            "2/8 Safety dump",
            "4/8 Restore",
            "5/8 Migrate",
            "6/8 Health checks",
            "8/8 Runbook entry",
        ):
            assert line in thread
        assert f"Backup: {backup.id}" in thread and "Approved by: standing approval" in thread
        audit = [r for r in bot.store.audit_rows(job.id) if r["event"].startswith("drill_")]
        assert [r["event"] for r in audit] == ["drill_started", "drill_succeeded"]
        assert audit[0]["detail"]["approval"].startswith("standing approval: drill_target = 'staging'")
        assert "standing approval" in (tmp_path / "RUNBOOK.md").read_text()

        # February's drill shows each step beside January's.
        second = _drill(scheduler, clock, datetime(2027, 2, 7, 3, 0, 30, tzinfo=UTC), bot)
        assert second.status == JobStatus.SUCCEEDED, second.error
        [post2] = [m for m in fake_slack.messages(JOBS) if f"job {second.id}" in m.text]
        assert f"previous drill: {job.result['seconds']:.1f} s on " in post2.text
        assert "Restore: " in post2.text and "(previous " in post2.text

        # March's migration fails: the drill fails and on-call hear it with a Retry button.
        monkeypatch.setenv("HOOK_FAIL_MIGRATE", "1")
        third = _drill(scheduler, clock, datetime(2027, 3, 7, 3, 0, 30, tzinfo=UTC), bot)
        assert third.status == JobStatus.FAILED
        [alert] = [m for m in fake_slack.messages(ALERTS) if "drill" in m.text]
        assert f"Scheduled drill of `app` failed (job {third.id})" in alert.text
        assert "<!subteam^S0ONCALL>" in alert.text and "step 5 (Migrate)" in alert.text
        button = next(e for b in alert.blocks if b["type"] == "actions" for e in b["elements"])
        assert (button["action_id"], button["value"]) == (RETRY_ACTION, str(third.id))

        # While staging is frozen, April's drill does not touch it.
        from jobs.freeze import freeze, unfreeze

        monkeypatch.delenv("HOOK_FAIL_MIGRATE")
        freeze(bot.store, "staging", "ULEAD", "audit")
        calls = (tmp_path / "hooks.log").read_text()
        frozen = _drill(scheduler, clock, datetime(2027, 4, 4, 2, 0, 30, tzinfo=UTC), bot)
        assert frozen.status == JobStatus.FAILED and "frozen" in frozen.error["message"]
        assert (tmp_path / "hooks.log").read_text() == calls
        unfreeze(bot.store, "staging", "ULEAD")
        monkeypatch.setenv("HOOK_FAIL_MIGRATE", "1")

        # On-call fix the migration and press Retry: the drill runs again and the channel hears it works.
        monkeypatch.delenv("HOOK_FAIL_MIGRATE")
        services = Services(
            cfg=cfg, store=bot.store, reporter=bot.reporter, directory=GroupDirectory(None), runner=bot.runner
        )
        replies: list[dict[str, Any]] = []
        retry_clicked(
            lambda *a, **k: None,
            {"actions": [{"value": button["value"]}], "user": {"id": "ULEAD"}, "channel": {"id": ALERTS}},
            {"services": services},  # type: ignore[arg-type]
            lambda **kw: replies.append(kw),
        )
        assert "retry of job" in replies[0]["text"]
        [retry] = [j for j in bot.store.list_jobs(limit=50) if j.params.get("retry_of") == third.id]
        assert bot.wait_job(retry, timeout=120).status == JobStatus.SUCCEEDED
        scheduler.tick()
        bot.flush()
        assert any("Scheduled drill of `app` works again" in m.text for m in fake_slack.messages(ALERTS))
