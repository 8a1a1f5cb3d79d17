"""Restores from Slack, end to end: `python -m bot` over signed requests and signed button clicks,
real PostgreSQL, the local S3 server and the fake Slack Web API. What is asserted is what
people see: the request in the channel, private answers to clicks, the thread, the target."""

from __future__ import annotations

import json
import os
import re
import shlex
import threading
import time
from collections.abc import Iterator

import pytest

from adapters.storage import open_storage
from engine.catalog import list_backups
from jobs.status import JobStatus
from jobs.store import Store
from tests.bot.conftest import SECRET, Bot
from tests.engine.conftest import run_cli
from tests.restore.conftest import Scene
from tests.support import pg
from tests.support.fake_slack import FakeSlack, Message
from tests.support.slack_signing import action_body, post_signed

BOT_TOKEN = "xoxb-1111-2222-restore"
SLACK = """
[slack]
channel = "C1"
allowed_users = ["U0DEV", "U0LEAD1", "U0LEAD2", "U0LEAD3", "U0NOBODY"]
"""


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    f = FakeSlack(group_members={"S0LEADS": ["U0LEAD3"]})
    yield f
    f.stop()


def start_bot(scene: Scene, fake: FakeSlack, monkeypatch: pytest.MonkeyPatch, extra: str = "") -> Bot:
    """The scene's config plus a [slack] section and the leads group, served by a real bot process."""
    text = scene.cfg_path.read_text().replace('[slack]\nchannel = "C0BACKUPS"\n', SLACK)
    text = text.replace(
        'approvers = ["U0LEAD1", "U0LEAD2"]', 'approvers = ["U0LEAD1", "U0LEAD2"]\napprover_group = "S0LEADS"'
    )
    scene.cfg_path.write_text(text + extra)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "SLACK_"))}
    env.update(
        {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": fake.api_url,
            "LOG_LEVEL": "INFO",
        }
    )
    return Bot(scene.tmp, env).start()


@pytest.fixture
def bot(scene: Scene, fake: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Bot]:
    b = start_bot(scene, fake, monkeypatch)
    yield b
    b.stop()


def request_restore(
    bot: Bot, fake: FakeSlack, scene: Scene, name: str, ref: str | None = None
) -> tuple[int, Message]:
    started = time.monotonic()
    resp = bot.command(
        f'restore {ref or scene.backup.id} --target staging --reason "monthly drill"',
        user="U0DEV",
        channel="C1",
        response_url=fake.response_url(name),
    )
    assert resp.status_code == 200 and time.monotonic() - started < 2.0
    posted = fake.wait_for(lambda: fake.responses.get(name), what="the request reply")[0]["text"]
    match = re.search(r"Restore request (\d+) posted", posted)
    assert match, posted
    job_id = int(match.group(1))
    msg = fake.wait_for(lambda: request_message(fake, job_id), what="the request message")
    return job_id, msg


def request_message(fake: FakeSlack, job_id: int) -> Message | None:
    for m in fake.messages("C1"):
        if f"(job {job_id})" in m.text:
            return m
    return None


def action_ids(msg: Message) -> list[str]:
    return [e["action_id"] for b in msg.blocks or [] if b["type"] == "actions" for e in b["elements"]]


def button_value(msg: Message, action: str = "restore_approve") -> str:
    for b in msg.blocks or []:
        for e in b.get("elements", []) if b["type"] == "actions" else []:
            if e["action_id"] == action:
                assert e["confirm"]["confirm"]["text"]  # every button asks "are you sure?"
                return str(e["value"])
    raise AssertionError(f"no {action} button in {msg.blocks}")


def click(
    bot: Bot,
    fake: FakeSlack,
    msg: Message,
    user: str,
    action: str = "restore_approve",
    value: str | None = None,
) -> str:
    """A signed block_actions click; returns the ephemeral answer ('' when there was none)."""
    name = f"click-{user}-{time.monotonic_ns()}"
    body = action_body(
        action,
        value or button_value(msg, action),
        user=user,
        channel="C1",
        response_url=fake.response_url(name),
        message_ts=msg.ts,
    )
    assert post_signed(bot.url, SECRET, body).status_code == 200
    try:
        got = fake.wait_for(lambda: fake.responses.get(name), timeout=3, what="an ephemeral answer")
    except AssertionError:
        return ""
    assert got[0]["response_type"] == "ephemeral"
    return str(got[0]["text"])


def job_status(store: Store, job_id: int) -> JobStatus:
    return store.get_job(job_id).status


def wait_status(
    fake: FakeSlack, store: Store, job_id: int, *states: JobStatus, timeout: float = 90
) -> JobStatus:
    return fake.wait_for(
        lambda: job_status(store, job_id) in states and job_status(store, job_id),
        timeout=timeout,
        what=f"job {job_id} in {states}",
    )


def test_lead_approves_and_the_runbook_runs_once(bot: Bot, fake: FakeSlack, scene: Scene) -> None:
    store = bot.store()
    job_id, msg = request_restore(bot, fake, scene, "req")
    shown = json.dumps(msg.blocks)
    for needle in (
        "Will overwrite",
        "Backup holds",
        "Expected duration",
        "Open sessions",
        scene.backup.id,
        "3 tables",
        "monthly drill",
        "Approvals: 0 of 1",
    ):
        assert needle in shown, needle
    assert action_ids(msg) == ["restore_approve", "restore_deny"]
    approve = button_value(msg)  # what a client that still shows the old message would send

    # The requester, a non-lead, and an outdated button change nothing.
    assert "you can't approve it" in click(bot, fake, msg, "U0DEV")
    assert "You can't approve this" in click(bot, fake, msg, "U0NOBODY")
    stale = json.dumps({"job": job_id, "binding": "0" * 20})
    assert "old approval is void" in click(bot, fake, msg, "U0LEAD1", value=stale)
    assert job_status(store, job_id) == JobStatus.AWAITING_APPROVAL

    # A double click and a second lead at the same moment: the restore runs once.
    answers: list[str] = []
    clicks = [
        threading.Thread(target=lambda u=u: answers.append(click(bot, fake, msg, u)))
        for u in ("U0LEAD1", "U0LEAD1", "U0LEAD3")
    ]
    for t in clicks:
        t.start()
    for t in clicks:
        t.join()
    assert wait_status(fake, store, job_id, JobStatus.SUCCEEDED, JobStatus.FAILED) == JobStatus.SUCCEEDED, (
        store.get_job(job_id).error
    )
    assert len([r for r in store.audit_rows(job_id) if r["event"] == "restore_approved"]) == 1
    assert len([r for r in store.audit_rows(job_id) if r["to_status"] == "running"]) == 1
    assert scene.hook_calls() == ["maint-on", "migrate", "maint-off"]
    assert pg.table_checksums(scene.target_url) == pg.table_checksums(scene.source_url)

    final = fake.wait_for(
        lambda: "done" in request_message(fake, job_id).text and request_message(fake, job_id),
        what="the final message",
    )
    assert action_ids(final) == []  # no buttons once decided
    assert re.search(r"<@U0LEAD[13]> approved at \d\d:\d\d:\d\d UTC", json.dumps(final.blocks))
    thread = fake.wait_for(
        lambda: len(fake.thread(final.ts)) >= 8 and fake.thread(final.ts), what="8 step lines"
    )
    lines = [m.text for m in thread]
    assert [re.search(r"(\d)/8", t).group(1) for t in lines] == [str(i) for i in range(1, 9)]
    assert "Runbook entry" in lines[-1] and scene.backup.id in lines[-1] and "U0DEV" in lines[-1]

    report = store.get_job(job_id).result or {}
    assert [m.id for m in list_backups(scene.cfg, "staging") if m.kind == "pre-restore"] == [
        report["safety_id"]
    ]
    entry = open_storage(scene.cfg.storage).get_bytes(report["runbook_key"]).decode()
    assert report["safety_id"] in entry and entry in scene.runbook_file.read_text()
    assert "already done" in click(bot, fake, msg, "U0LEAD2", value=approve)


def test_deny_and_expiry_close_the_request(
    bot: Bot, fake: FakeSlack, scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = bot.store()
    denied, msg = request_restore(bot, fake, scene, "deny")
    assert click(bot, fake, msg, "U0LEAD2", action="restore_deny") == ""
    wait_status(fake, store, denied, JobStatus.CANCELLED, timeout=10)
    closed = fake.wait_for(
        lambda: not action_ids(request_message(fake, denied)) and request_message(fake, denied),
        what="the denied message without buttons",
    )
    assert "denied" in json.dumps(closed.blocks) and "U0LEAD2" in json.dumps(closed.blocks)

    # Expired while people looked away: a late click is refused and the message says so.
    late, msg = request_restore(bot, fake, scene, "late")
    store.update_job(late, params={**store.get_job(late).params, "expires_at": time.time() - 1})
    assert "expired" in click(bot, fake, msg, "U0LEAD1")
    assert job_status(store, late) == JobStatus.EXPIRED
    gone = fake.wait_for(
        lambda: "expired" in request_message(fake, late).text and request_message(fake, late),
        what="the expired message",
    )
    assert action_ids(gone) == []

    # Expired while the bot was down: found and edited when it starts again.
    idle, msg = request_restore(bot, fake, scene, "idle")
    bot.stop()
    store.update_job(idle, params={**store.get_job(idle).params, "expires_at": time.time() - 1})
    again = Bot(bot.workdir, bot.env).start()
    try:
        fake.wait_for(lambda: "expired" in request_message(fake, idle).text, what="the idle request expired")
        assert action_ids(request_message(fake, idle)) == []
    finally:
        again.stop()
    assert scene.hook_calls() == [] and pg.table_checksums(scene.target_url) == scene.target_before


def test_two_leads_then_a_failing_migrate_says_what_to_do(
    scene: Scene, fake: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_FAIL_MIGRATE", "3")
    bot = start_bot(scene, fake, monkeypatch, extra="approvals_required = 2\n")
    try:
        store = bot.store()
        job_id, msg = request_restore(bot, fake, scene, "two", ref="latest:app")
        approve = button_value(msg)
        assert "1 of 2" in click(bot, fake, msg, "U0LEAD1", value=approve)
        assert "already answered" in click(bot, fake, msg, "U0LEAD1", value=approve)
        half = fake.wait_for(
            lambda: (
                "Approvals: 1 of 2" in json.dumps(request_message(fake, job_id).blocks)
                and request_message(fake, job_id)
            ),
            what="one of two approvals shown",
        )
        assert action_ids(half) == ["restore_approve", "restore_deny"]
        assert job_status(store, job_id) == JobStatus.AWAITING_APPROVAL
        click(bot, fake, msg, "U0LEAD3", value=approve)  # in the approver group, via usergroups.users.list

        assert wait_status(fake, store, job_id, JobStatus.SUCCEEDED, JobStatus.FAILED) == JobStatus.FAILED
        final = fake.wait_for(
            lambda: "failed" in request_message(fake, job_id).text and request_message(fake, job_id),
            what="the failure message",
        )
        text = json.dumps(final.blocks)
        assert "stopped at step 5 (Migrate)" in text
        assert "restored, migrations failed, still in maintenance" in text
        undo = re.search(
            r"`(backupbot restore \S+-pre-restore-[0-9a-z]{4} --target staging --break-glass[^`]*)`",
            final.text,
        )
        assert undo, final.text
        assert scene.hook_calls() == ["maint-on", "migrate"]
        assert pg.table_checksums(scene.target_url) == pg.table_checksums(scene.source_url)
    finally:
        bot.stop()

    # The command the message gives puts back what was there before.
    args = shlex.split(undo.group(1).replace('\\"', '"'))[1:]
    proc = run_cli(*args, env={"HOOK_FAIL_MIGRATE": "0"})
    assert proc.returncode == 0, proc.stderr
    assert pg.table_checksums(scene.target_url) == scene.target_before
