"""`/backup prune`: a dry run for anyone allowed, deletion only for a lead, as an audited job."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from adapters.storage import open_storage
from commands.base import Invocation
from commands.grammar import dispatch
from commands.permissions import GroupDirectory
from jobs.status import JobStatus
from tests.scheduler.conftest import JOBS
from tests.support import pg
from tests.support.backups import stored_ids, write_backup
from tests.support.fake_slack import FakeSlack


def test_dry_run_for_anyone_confirm_for_leads(make_cfg: Any, make_bot: Any, fake_slack: FakeSlack) -> None:
    cfg = make_cfg(pg.url_for("unused"))
    bot = make_bot(cfg)
    now = datetime.now(UTC)
    storage = open_storage(cfg.storage)
    ids = [
        write_backup(cfg, "prod", "daily", now - timedelta(hours=1, days=k), storage).id for k in range(12)
    ]
    directory = GroupDirectory(lambda group: {"S0LEADS": ["ULEAD"]}[group])

    def run(text: str, user: str) -> Any:
        inv = Invocation(
            user=user, channel=JOBS, cfg=cfg, store=bot.store, reporter=bot.reporter, directory=directory
        )
        return dispatch(text, inv)

    reply = run("prune prod", "U1")
    assert reply.later is not None
    plan = reply.later().text
    assert "dry run" in plan and "would delete" in plan and f"`{ids[0]}` — newest-good, daily" in plan
    assert "--confirm" in plan

    refused = run("prune prod --confirm", "U1")
    assert "only a lead may delete backups of 'prod'" in refused.text and refused.job_id is None
    assert stored_ids(cfg, "prod", storage) == set(ids)

    queued = run("prune prod --confirm", "ULEAD")
    job = bot.wait_job(bot.store.get_job(queued.job_id))
    assert job.status == JobStatus.SUCCEEDED and job.requested_by == "ULEAD"
    left = stored_ids(cfg, "prod", storage)
    assert set(ids[:7]) <= left and len(left) in (7, 8)  # 7 daily, + last month's newest if in range
    assert set(job.result["deleted"]) == set(ids) - left
    bot.flush()
    message = next(m for m in fake_slack.messages(JOBS) if f"job {job.id}" in m.text)
    assert "Prune of `prod`" in message.text or "Prune of prod" in message.text
    assert "deleted" in message.text
