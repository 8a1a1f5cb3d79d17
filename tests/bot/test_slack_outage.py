"""Slack unreachable (connection refused, not 429): backups go on, and every message arrives later,
even when the bot process dies before Slack comes back."""

from __future__ import annotations

import re
import time
from typing import Any

from jobs.status import JobStatus
from jobs.store import Store
from tests.bot.conftest import Bot
from tests.bot.slack_gate import SlackGate
from tests.bot.test_slack_e2e import BACKUP_ID, job_message
from tests.support.fake_slack import FakeSlack


def wait_status(store: Store, job_id: int, status: JobStatus, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while store.get_job(job_id).status != status and time.monotonic() < deadline:
        time.sleep(0.05)
    assert store.get_job(job_id).status == status


def outbox_rows(store: Store) -> int:
    return int(next(iter(store.db.query("SELECT count(*) AS n FROM slack_outbox")))["n"])


def chat_calls(fake: FakeSlack) -> list[Any]:
    return [c for c in fake.api_calls() if c.method.startswith("chat.")]


def test_slack_unreachable_for_a_while_delays_messages_not_the_backup(
    bot_env: dict[str, Any], fake_slack: FakeSlack
) -> None:
    gate = SlackGate(fake_slack.port)  # closed: Slack refuses every connection
    bot = Bot(bot_env["dir"], {**bot_env["env"], "SLACK_API_URL": gate.api_url}).start()
    store = bot.store()
    try:
        assert bot.command("dump app").status_code == 200  # acknowledging needs no Web API call
        wait_status(store, 1, JobStatus.SUCCEEDED)
        assert chat_calls(fake_slack) == []
        gate.open()
        final = job_message(fake_slack, r"done", timeout=30)
        assert BACKUP_ID.search(final.text)
        assert len(fake_slack.messages("C1")) == 1  # one message, whatever was retried
        thread = fake_slack.wait_for(lambda: fake_slack.thread(final.ts), what="the step line")
        assert "upload (app): ok" in thread[0].text
        fake_slack.wait_for(lambda: outbox_rows(store) == 0, what="an empty outbox")
    finally:
        store.close()
        bot.stop()
        gate.close()


def test_final_message_arrives_after_a_crash_while_slack_was_down(
    bot_env: dict[str, Any], fake_slack: FakeSlack
) -> None:
    gate = SlackGate(fake_slack.port)  # never opened: connection refused throughout
    first = Bot(bot_env["dir"], {**bot_env["env"], "SLACK_API_URL": gate.api_url}).start()
    try:
        assert first.command('dump app --reason "nightly by hand"').status_code == 200
        store = first.store()
        wait_status(store, 1, JobStatus.SUCCEEDED)
        backup_id = store.get_job(1).result["backup_id"]
        assert outbox_rows(store) >= 1  # the thread line waits on disk, not only in memory
        store.close()
        first.kill()
    finally:
        first.stop()
    assert chat_calls(fake_slack) == []

    second = Bot(bot_env["dir"], bot_env["env"]).start()  # Slack is up again
    try:
        final = job_message(fake_slack, re.escape(backup_id), timeout=30)
        assert "done" in final.text and "nightly by hand" in str(final.blocks)
        assert len(fake_slack.messages("C1")) == 1
        thread = fake_slack.wait_for(lambda: fake_slack.thread(final.ts), what="the step line")
        assert "upload (app): ok" in thread[0].text
        store = second.store()
        fake_slack.wait_for(lambda: outbox_rows(store) == 0, what="an empty outbox")
        store.close()
    finally:
        second.stop()
