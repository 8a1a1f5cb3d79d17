"""The app's files on the schedule: synced and checked each night after the database backups; failures alert."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.listeners.actions.jobs import retry_clicked
from bot.services import Services
from commands.permissions import GroupDirectory
from jobs.scheduler import Scheduler, entries_from_config
from jobs.status import JobStatus
from tests.scheduler.conftest import ALERTS, JOBS, SimClock
from tests.support.fake_slack import FakeSlack
from tests.support.s3server import S3Server

pytestmark = pytest.mark.usefixtures("state_backend")  # the store's suite runs on SQLite and PostgreSQL


def files_toml(s3: S3Server, bucket: str) -> str:
    return f"""
[files]
source_url = "s3://{bucket}/app"
endpoint_url = "{s3.endpoint_url}"
region = "us-east-1"
prefixes = ["xml/"]
"""


def test_nightly_files_sync_and_check_after_the_backups_and_alerts(
    make_cfg: Any, make_bot: Any, fake_slack: FakeSlack, s3_server: S3Server, backup_key: str
) -> None:
    app = s3_server.new_bucket()
    s3 = s3_server.client()
    s3.put_object(Bucket=app, Key="app/xml/a.xml", Body=b"<a/>")
    cfg = make_cfg("postgresql://nobody@127.0.0.1:1/none", extra=files_toml(s3_server, app))
    entries = {e.key: e for e in entries_from_config(cfg)}
    day = datetime(2026, 12, 1, tzinfo=UTC)
    assert entries["dump:prod"].next_slot(day) == day.replace(hour=3)
    assert entries["files_sync:*"].next_slot(day) == day.replace(hour=4, minute=30)  # after the backups
    assert entries["files_verify:*"].next_slot(day) == day.replace(hour=5)

    bot = make_bot(cfg)
    clock = SimClock(day.replace(hour=4))
    only_files = [entries["files_sync:*"], entries["files_verify:*"]]
    scheduler = Scheduler(cfg, bot.store, bot.reporter, clock=clock, entries=only_files)
    scheduler.tick()  # starts watching

    clock.now = day.replace(hour=4, minute=31)
    [sync] = scheduler.tick()
    assert bot.wait_job(sync).status == JobStatus.SUCCEEDED
    clock.now = day.replace(hour=5, minute=1)
    [verify] = scheduler.tick()
    assert bot.wait_job(verify).status == JobStatus.SUCCEEDED
    scheduler.tick()
    bot.flush()
    texts = [m.text for m in fake_slack.messages(JOBS)]
    assert any(
        "Backup of the app's files — done" in t and "Copied 1 new or changed file(s)" in t for t in texts
    )
    assert any(
        "Check of the backed-up app files — done" in t and "All 1 backed-up app file(s) are good" in t
        for t in texts
    )
    assert fake_slack.messages(ALERTS) == []

    # the next night a malformed file arrives: the scheduled check fails and on-call hear it once
    s3.put_object(Bucket=app, Key="app/xml/b.xml", Body=b"<b>\n</c>")
    clock.now = day + timedelta(days=1, hours=4, minutes=31)
    [sync2] = scheduler.tick()
    assert bot.wait_job(sync2).status == JobStatus.SUCCEEDED
    clock.now = day + timedelta(days=1, hours=5, minutes=1)
    [verify2] = scheduler.tick()
    assert bot.wait_job(verify2).status == JobStatus.FAILED
    scheduler.tick()
    scheduler.tick()
    bot.flush()
    [alert] = fake_slack.messages(ALERTS)
    assert (
        "<!subteam^S0ONCALL>" in alert.text
        and f"Scheduled files verify failed (job {verify2.id})" in alert.text
    )
    assert "1 of 2 backed-up app file(s) failed the check" in alert.text
    assert "xml/b.xml" in alert.text and "malformed XML: mismatched tag at line 2" in alert.text
    assert any(b["type"] == "actions" for b in alert.blocks)  # Retry

    # an unreachable app bucket fails the nightly sync, which alerts like a failed nightly backup
    s3.delete_object(Bucket=app, Key="app/xml/a.xml")
    s3.delete_object(Bucket=app, Key="app/xml/b.xml")
    s3.delete_bucket(Bucket=app)
    clock.now = day + timedelta(days=2, hours=4, minutes=31)
    [sync3] = scheduler.tick()
    assert bot.wait_job(sync3).status == JobStatus.FAILED
    scheduler.tick()
    bot.flush()
    sync_alert = fake_slack.messages(ALERTS)[-1]
    assert f"Scheduled files sync failed (job {sync3.id})" in sync_alert.text
    assert "cannot read the application's bucket" in sync_alert.text and "NoSuchBucket" in sync_alert.text

    # the bucket is back; Retry on the alert re-runs the nightly sync, and on-call hear it works again
    s3.create_bucket(Bucket=app)
    s3.put_object(Bucket=app, Key="app/xml/a.xml", Body=b"<a/>")
    services = Services(
        cfg=cfg, store=bot.store, reporter=bot.reporter, directory=GroupDirectory(None), runner=bot.runner
    )
    replies: list[dict[str, Any]] = []
    button = next(b for b in sync_alert.blocks if b["type"] == "actions")["elements"][0]
    retry_clicked(
        lambda *a, **k: None,
        {"actions": [{"value": button["value"]}], "user": {"id": "U1"}, "channel": {"id": ALERTS}},
        {"services": services},  # type: ignore[arg-type]
        lambda **kw: replies.append(kw),
    )
    assert "retry of job" in replies[0]["text"]
    retry = bot.store.list_jobs(kind="files_sync", limit=1)[0]
    assert bot.wait_job(retry).status == JobStatus.SUCCEEDED
    scheduler.tick()
    bot.flush()
    assert "Scheduled files sync works again" in fake_slack.messages(ALERTS)[-1].text
