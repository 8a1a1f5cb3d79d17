"""`[verify] after_nightly`: each scheduled backup is verified right after it is stored, in Slack."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters.storage import open_storage
from bot.render import RETRY_ACTION
from commands.base import Invocation
from commands.grammar import dispatch
from commands.permissions import GroupDirectory
from jobs.scheduler import Scheduler
from jobs.status import JobStatus

# make_cfg and heartbeat come from the schedule tests' fixtures
from tests.scheduler.conftest import (
    ALERTS,
    JOBS,
    SimClock,
    make_cfg,  # noqa: F401
)
from tests.support import pg
from tests.support.fake_slack import FakeSlack
from tests.verify.conftest import scratch_databases

AFTER = '\n[verify]\nurl_env = "BACKUPBOT_VERIFY_URL"\nafter_nightly = true\n'


def _night(scheduler: Scheduler, clock: SimClock, bot: Any, at: datetime) -> Any:
    clock.now = at
    [dump] = [j for j in scheduler.tick() if j.kind == "dump"]
    return bot.wait_job(dump)


def test_nightly_backup_is_verified_and_a_failed_verification_alerts(
    realistic_db: str,
    backup_key: str,
    make_cfg: Any,  # noqa: F811
    make_bot: Any,
    fake_slack: FakeSlack,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BACKUPBOT_VERIFY_URL", pg.ADMIN_URL)
    cfg = make_cfg(realistic_db, schedule="* * * * *", extra=AFTER)
    bot = make_bot(cfg)
    now = datetime.now(UTC).replace(microsecond=0)
    clock = SimClock(now)
    scheduler = Scheduler(cfg, bot.store, bot.reporter, clock=clock)
    scheduler.tick()

    dump = _night(scheduler, clock, bot, now + timedelta(seconds=61))
    assert dump.status == JobStatus.SUCCEEDED
    scheduler.tick()  # follow-up: queues the verification
    [verify] = [j for j in bot.store.list_jobs(limit=50) if j.kind == "verify"]
    verify = bot.wait_job(verify, timeout=120)
    assert verify.status == JobStatus.SUCCEEDED, verify.error
    assert verify.params["backup_id"] == dump.result["backup_id"]
    assert verify.lane == "scratch:prod"  # a long verification never holds up the next nightly
    assert verify.result["scratch_database"] not in scratch_databases()
    bot.flush()
    [post] = [m for m in fake_slack.messages(JOBS) if f"job {verify.id}" in m.text]
    assert f"Backup `{dump.result['backup_id']}` verified: all 4 steps passed" in post.text
    thread = "\n".join(m.text for m in fake_slack.thread(post.ts))
    assert (
        "1/4 Integrity" in thread
        and "3/4 Restore and count rows" in thread
        and "4/4 Drop scratch database" in thread
    )

    inv = Invocation(user="ULEAD", channel=JOBS, cfg=cfg, store=bot.store, directory=GroupDirectory(None))
    reply = dispatch("list prod", inv)
    assert reply.later is not None
    listing = reply.later().text
    line = next(row for row in listing.splitlines() if dump.result["backup_id"] in row)
    assert ":white_check_mark: verified 20" in line

    # The next night's object is damaged right after it is stored: its verification fails and alerts.
    second = _night(scheduler, clock, bot, now + timedelta(seconds=122))
    storage = open_storage(cfg.storage)
    data = bytearray(storage.get_bytes(second.result["key"]))
    data[100] ^= 0xFF
    storage.put_bytes(second.result["key"], bytes(data))
    scheduler.tick()
    [failed] = [j for j in bot.store.list_jobs(limit=50) if j.kind == "verify" and j.id != verify.id]
    failed = bot.wait_job(failed, timeout=120)
    assert failed.status == JobStatus.FAILED
    scheduler.tick()
    bot.flush()
    [alert] = [m for m in fake_slack.messages(ALERTS) if "verify" in m.text]
    assert f"Scheduled verify of `prod` failed (job {failed.id})" in alert.text
    assert "step 1 (Integrity)" in alert.text and second.result["key"] in alert.text
    button = next(e for b in alert.blocks if b["type"] == "actions" for e in b["elements"])
    assert (button["action_id"], button["value"]) == (RETRY_ACTION, str(failed.id))
    listing = dispatch("list prod", inv).later().text  # type: ignore[union-attr]
    line = next(row for row in listing.splitlines() if second.result["backup_id"] in row)
    assert ":x: VERIFY FAILED 20" in line and "(step 1)" in line
