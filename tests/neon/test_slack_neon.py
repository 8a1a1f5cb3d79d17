"""Neon from Slack, end to end: `python -m bot` over signed requests and clicks, the fake Neon API
(checked against the spec), the fake Slack Web API and the local S3 server for runbook entries.
What is asserted is what people see in the channel and what Neon was asked to do."""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.storage import open_storage
from core.config import load_config
from jobs.status import JobStatus
from tests.bot.conftest import SECRET, Bot
from tests.neon.conftest import KEY, PID, neon_config_text
from tests.restore.conftest import HOOK
from tests.restore.test_slack_restore import action_ids, click, request_message, wait_status
from tests.support.fake_neon import FakeNeon
from tests.support.fake_slack import FakeSlack, Message
from tests.support.s3server import S3Server

SLACK = """
[slack]
channel = "C1"
allowed_users = ["U0DEV", "U0LEAD1", "U0LEAD2", "U0LEAD3"]
"""


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    f = FakeSlack(group_members={"S0LEADS": ["U0LEAD3"]})
    yield f
    f.stop()


@pytest.fixture
def neon_bot(
    tmp_path: Path, fake: FakeSlack, fake_neon: FakeNeon, s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Bot]:
    bucket = s3_server.new_bucket()
    hook = tmp_path / "hook.py"
    hook.write_text(HOOK)
    storage = f'url = "s3://{bucket}/bb"\nendpoint_url = "{s3_server.endpoint_url}"\nregion = "us-east-1"'
    hooks = (
        f'maintenance_on = ["{sys.executable}", "{hook}", "maint-on"]\n'
        f'maintenance_off = ["{sys.executable}", "{hook}", "maint-off"]\n'
    )
    text = neon_config_text(
        storage, tmp_path, extra=SLACK + "[runner]\nprogress_interval_seconds = 0.2\n", db_extra=hooks
    )
    cfg_path = tmp_path / "backupbot.toml"
    cfg_path.write_text(text)
    cfg = load_config(str(cfg_path))
    assert cfg.database("prod").maintenance_on and cfg.database("prod").retention.pre_event_days == 14
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "SLACK_", "BACKUPBOT_"))}
    env.update(
        {
            "BACKUPBOT_CONFIG": str(cfg_path),
            "BACKUPBOT_STATE_DIR": str(tmp_path / "state"),
            "SLACK_BOT_TOKEN": "xoxb-1111-2222-neon",
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": fake.api_url,
            "NEON_API_URL": fake_neon.url,
            "NEON_API_KEY": KEY,
            "HOOK_LOG": str(tmp_path / "hooks.log"),
            "LOG_LEVEL": "INFO",
        }
    )
    bot = Bot(tmp_path, env).start()
    bot.cfg = cfg  # type: ignore[attr-defined]
    yield bot
    bot.stop()


def say(bot: Bot, fake: FakeSlack, text: str, user: str = "U0DEV", later: bool = False) -> list[str]:
    """A signed /backup command: the acknowledgement's text, then (``later``) the answer sent to response_url."""
    name = f"cmd-{time.monotonic_ns()}"
    resp = bot.command(text, user=user, channel="C1", response_url=fake.response_url(name))
    assert resp.status_code == 200
    answers = [str(resp.json().get("text", ""))]
    if later:
        got = fake.wait_for(lambda: fake.responses.get(name), what=f"the answer to {text!r}")
        answers += [str(r.get("text", "")) for r in got]
    return answers


def job_message(fake: FakeSlack, job_id: int, needle: str, timeout: float = 60) -> Message:
    return fake.wait_for(
        lambda: (m := request_message(fake, job_id)) and needle in m.text and m, timeout=timeout, what=needle
    )


def queued_job(answers: list[str]) -> int:
    match = re.search(r"as job (\d+)", " ".join(answers)) or re.search(
        r"request (\d+) posted", " ".join(answers)
    )
    assert match, answers
    return int(match.group(1))


def test_branch_from_slack_once_even_when_the_create_timed_out(
    neon_bot: Bot, fake: FakeSlack, fake_neon: FakeNeon
) -> None:
    fake_neon.hang_next_create = 1
    fake_neon.op_polls = 3
    job = queued_job(say(neon_bot, fake, 'branch prod --reason "before invoice import"'))
    done = job_message(fake, job, "done")
    made = [b for b in fake_neon.branches[PID].values() if b["name"].startswith("backup-")]
    assert (
        len(made) == 1
        and made[0]["name"] in done.text
        and "endpoints" not in json.dumps(fake_neon.calls[-1].body)
    )
    assert len(fake_neon.calls_to("POST", "/branches")) == 1
    assert made[0]["expires_at"]

    listed = say(neon_bot, fake, "branches prod", later=True)[-1]
    assert made[0]["name"] in listed and "U0DEV" in listed and "before invoice import" in listed
    assert "expires" in listed and "from `main`" in listed


def approve_and_finish(bot: Bot, fake: FakeSlack, job_id: int) -> Message:
    msg = fake.wait_for(lambda: request_message(fake, job_id), what="the request card")
    assert action_ids(msg) == ["restore_approve", "restore_deny"]
    assert "you can't approve it" in click(bot, fake, msg, "U0DEV")  # no self-approval
    click(bot, fake, msg, "U0LEAD1")
    status = wait_status(fake, bot.store(), job_id, JobStatus.SUCCEEDED, JobStatus.FAILED, timeout=60)
    assert status == JobStatus.SUCCEEDED, bot.store().get_job(job_id).error
    return job_message(fake, job_id, "done")


def test_restore_from_a_branch_a_moment_and_a_snapshot(
    neon_bot: Bot, fake: FakeSlack, fake_neon: FakeNeon
) -> None:
    main = fake_neon.branch_named(PID, "main")
    assert main
    fake_neon.op_polls = 2
    fake_neon.throttle_every = 9  # a 429 with Retry-After now and then
    backup = fake_neon._new_branch(PID, "backup-20260101", main, "prod-before-migration")

    # 1. from a backup branch, while a background operation makes Neon answer 423 twice
    fake_neon.busy_next = 2
    job = queued_job(
        say(neon_bot, fake, "restore neon:backup-20260101 prod --target prod --reason drill", later=True)
    )
    card = json.dumps(fake.wait_for(lambda: request_message(fake, job), what="card").blocks)
    for needle in ("Will overwrite", "`neondb`", "`billing`", "50.0 MB", "stay the same", "pre-restore-"):
        assert needle in card, needle
    preserved = re.search(r"(pre-restore-\d{8}T\d{6}Z)", card).group(1)
    final = approve_and_finish(neon_bot, fake, job)
    assert f"backupbot restore neon:{preserved} --target prod --break-glass" in final.text  # the undo
    posts = fake_neon.calls_to("POST", f"/branches/{main['id']}/restore")
    call = posts[-1]
    assert [c.status for c in posts].count(423) == 2 and call.status == 200
    assert len([c for c in posts if c.status == 200]) == 1
    assert call.body == {"source_branch_id": backup["id"], "preserve_under_name": preserved}
    assert main["_content"] == "prod-before-migration"
    kept = fake_neon.branch_named(PID, preserved)
    assert kept and kept["_content"] == "prod-v1" and main["parent_id"] == kept["id"]
    assert all(o.status == "finished" for o in fake_neon.ops[PID])
    thread = fake.wait_for(lambda: len(fake.thread(final.ts)) >= 8 and fake.thread(final.ts), what="8 steps")
    lines = [m.text for m in thread]
    assert any("4/8 Wait for Neon" in t and "create_timeline" in t for t in lines)
    assert "maint-on" in (Path(neon_bot.env["HOOK_LOG"]).read_text())
    entry = open_storage(neon_bot.cfg.storage).get_bytes(bot_result(neon_bot, job)["runbook_key"]).decode()
    assert preserved in entry and f"backupbot restore neon:{preserved} --target prod --break-glass" in entry

    # 2. back to a moment, within the history window
    moment = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 600))
    job = queued_job(say(neon_bot, fake, f"restore neon@{moment} --target prod", user="U0DEV", later=True))
    approve_and_finish(neon_bot, fake, job)
    call = fake_neon.calls_to("POST", f"/branches/{main['id']}/restore")[-1]
    assert call.body["source_branch_id"] == main["id"] and call.body["source_timestamp"] == moment
    assert call.body["preserve_under_name"].startswith("pre-restore-")

    # 3. from a snapshot: restore into the named target, then finalize under the preserved name
    time.sleep(1.1)  # a new second, so a new preserved name
    snap = fake_neon.add_snapshot(PID, "nightly-0101", "prod-snapshot", main["id"])
    job = queued_job(say(neon_bot, fake, "restore neon-snapshot:nightly-0101 --target prod", later=True))
    approve_and_finish(neon_bot, fake, job)
    (snap_call,) = fake_neon.calls_to("POST", f"/snapshots/{snap['id']}/restore")
    assert snap_call.body["target_branch_id"] == main["id"] and snap_call.body["finalize_restore"] is False
    (fin,) = [c for c in fake_neon.calls if c.path.endswith("/finalize_restore")]
    now_main = fake_neon.branch_named(PID, "main")
    assert now_main and now_main["_content"] == "prod-snapshot" and now_main["default"]
    assert fake_neon.branch_named(PID, fin.body["name"])["id"] == main["id"]  # the old branch, preserved
    assert fin.body["name"].startswith("pre-restore-")

    listed = say(neon_bot, fake, "branches prod", later=True)[-1]
    assert preserved in listed and "made by a restore" in listed and "nightly-0101" in listed


def bot_result(bot: Bot, job_id: int) -> dict:
    return bot.store().get_job(job_id).result or {}


def test_each_neon_error_ends_in_a_clear_message(neon_bot: Bot, fake: FakeSlack, fake_neon: FakeNeon) -> None:
    # 409 on a taken name
    fake_neon._new_branch(PID, "taken", fake_neon.branch_named(PID, "main"), "x")
    job = queued_job(say(neon_bot, fake, "branch prod --name taken"))
    assert "already exists" in job_message(fake, job, "failed").text
    # 422 at the branch limit: how many exist and how to prune
    fake_neon.branch_limit = 2
    job = queued_job(say(neon_bot, fake, "branch prod"))
    text = job_message(fake, job, "failed").text
    assert "branch limit (2 branches exist)" in text and "/backup prune prod" in text
    fake_neon.branch_limit = 50
    # 423 for longer than the bot waits: what was still running
    fake_neon.busy_next = 10_000
    job = queued_job(say(neon_bot, fake, "branch prod"))
    text = job_message(fake, job, "failed", timeout=60).text
    assert "busy with another operation" in text and "request id" in text
    fake_neon.busy_next = 0
    # a failed operation: its error text
    fake_neon.fail_next_op = "timeline creation failed on pageserver"
    job = queued_job(say(neon_bot, fake, "branch prod"))
    failed_op = job_message(fake, job, "failed").text
    assert "timeline creation failed on pageserver" in failed_op and "request id" in failed_op, failed_op
    # 404 on a branch that is not there, before anyone is asked to approve
    answers = say(neon_bot, fake, "restore neon:no-such-branch --target prod", later=True)
    assert "has no branch 'no-such-branch'" in answers[-1]
    # a moment outside the history window: refused with its limits
    answers = say(neon_bot, fake, "restore neon@2020-01-01T00:00:00Z --target prod", later=True)
    assert "outside the history window" in answers[-1] and "keeps history" in answers[-1]
    # 401: the key
    fake_neon.api_key = "rotated-key-1234"
    answers = say(neon_bot, fake, "branches prod", later=True)
    assert "refused the API key" in answers[-1] and "NEON_API_KEY" in answers[-1] and KEY not in answers[-1]


def test_prune_from_slack_lists_then_a_lead_deletes(
    neon_bot: Bot, fake: FakeSlack, fake_neon: FakeNeon
) -> None:
    for name in ("backup-a", "backup-b"):
        job = queued_job(say(neon_bot, fake, f"branch prod --name {name}"))
        job_message(fake, job, "done")
    stale = fake_neon.branch_named(PID, "backup-a")
    assert stale
    stale["expires_at"] = "2020-01-01T00:00:00Z"
    stale["created_at"] = "2020-01-01T00:00:00Z"

    plan = say(neon_bot, fake, "prune prod", later=True)[-1]
    assert "would delete `backup-a`" in plan and "keep `backup-b` — the newest backup branch" in plan
    assert fake_neon.branch_named(PID, "backup-a")  # a dry run deletes nothing

    assert "only a lead may delete" in say(neon_bot, fake, "prune prod --confirm")[0]
    job = queued_job(say(neon_bot, fake, "prune prod --confirm", user="U0LEAD1"))
    done = job_message(fake, job, "done")
    assert "1 deleted" in done.text and "`backup-a`" in done.text
    assert fake_neon.branch_named(PID, "backup-a") is None and fake_neon.branch_named(PID, "backup-b")
