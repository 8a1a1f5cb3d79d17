"""The Cancel and Retry buttons, clicked as Slack sends clicks: signed form-encoded `payload=` JSON.

Real PostgreSQL, the local S3 server and fake Slack; the assertions are what the clicker
sees (the ephemeral reply, the job's message) and what is left in the bucket.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import psycopg
import requests

from bot.render import CANCEL_ACTION, RETRY_ACTION
from jobs.status import JobStatus
from tests.bot.conftest import SECRET, Bot, fill_incompressible
from tests.bot.test_slack_e2e import BACKUP_ID, cli, job_message
from tests.support import pg
from tests.support.fake_slack import FakeSlack, Message
from tests.support.slack_signing import action_body, post_signed


def click(bot: Bot, fake: FakeSlack, action: str, value: str, user: str, name: str) -> dict[str, Any]:
    """Press a button as ``user``; returns what the bot posted back to the click's response_url."""
    body = action_body(action, value, user=user, channel="C1", response_url=fake.response_url(name))
    started = time.monotonic()
    resp = post_signed(bot.url, SECRET, body)
    assert resp.status_code == 200 and time.monotonic() - started < 3.0
    return fake.wait_for(lambda: fake.responses.get(name), what=f"the reply to {name}")[0]


def buttons(msg: Message) -> list[tuple[str, str]]:
    return [
        (e["action_id"], e["value"])
        for b in msg.blocks or []
        if b["type"] == "actions"
        for e in b["elements"]
    ]


def test_cancel_button_stops_a_running_dump_and_leaves_nothing(
    bot_env: dict[str, Any], fake_slack: FakeSlack, slow_pg_dump: dict[str, str]
) -> None:
    fill_incompressible(bot_env["db"], megabytes=8)
    bot = Bot(bot_env["dir"], {**bot_env["env"], "PATH": slow_pg_dump["PATH"]}).start()
    s3, bucket = bot_env["s3"].client(), bot_env["bucket"]
    store = bot.store()
    try:
        assert bot.command("dump app").status_code == 200
        fake_slack.wait_for(
            lambda: (
                Path(slow_pg_dump["marker"]).exists()
                and s3.list_multipart_uploads(Bucket=bucket).get("Uploads")
            ),
            timeout=60,
            what="the dump stalled inside a multipart upload",
        )
        running = job_message(fake_slack, r"running")
        assert buttons(running) == [(CANCEL_ACTION, "1")]

        refused = click(bot, fake_slack, CANCEL_ACTION, "1", user="U9", name="outsider")
        assert refused["response_type"] == "ephemeral" and refused["replace_original"] is False
        assert "not allowed" in refused["text"]
        assert store.get_job(1).status == JobStatus.RUNNING and not store.get_job(1).cancel_requested

        reply = click(bot, fake_slack, CANCEL_ACTION, "1", user="U2", name="cancel")
        assert reply["response_type"] == "ephemeral" and "Stopping dump app (job 1)" in reply["text"]
        final = job_message(fake_slack, r"cancelled", timeout=30)
        assert "was cancelled" in final.text and "queue it again" in final.text
        assert buttons(final) == []  # no Cancel on a stopped job, no Retry on a deliberate stop
        assert len(fake_slack.messages("C1")) == 1
        assert store.get_job(1).status == JobStatus.CANCELLED
        assert not s3.list_multipart_uploads(Bucket=bucket).get("Uploads")
        listed = cli(bot_env["env"], "list", "--json")
        assert listed.returncode == 0 and not BACKUP_ID.search(listed.stdout)
    finally:
        store.close()
        bot.stop()


def _allow_connections(url: str, allowed: bool) -> None:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(pg.ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(allowed).lower()}')


def test_retry_button_on_a_failed_dump_runs_it_again_once(
    bot_env: dict[str, Any], fake_slack: FakeSlack
) -> None:
    _allow_connections(bot_env["db"], False)  # the database refuses pg_dump: the dump fails
    bot = Bot(bot_env["dir"], bot_env["env"]).start()
    store = bot.store()
    try:
        assert bot.command("dump app").status_code == 200
        failed = job_message(fake_slack, r"failed")
        assert "app" in failed.text and buttons(failed) == [(RETRY_ACTION, "1")]

        refused = click(bot, fake_slack, RETRY_ACTION, "1", user="U9", name="outsider")
        assert refused["response_type"] == "ephemeral" and "not allowed" in refused["text"]
        assert [j.id for j in store.list_jobs()] == [1]

        _allow_connections(bot_env["db"], True)  # someone fixed it
        reply = click(bot, fake_slack, RETRY_ACTION, "1", user="U1", name="retry")
        assert reply["response_type"] == "ephemeral"
        assert "Queued dump app (job 2) (retry of job 1)" in reply["text"]
        done = job_message(fake_slack, r"done \(job 2\)")
        backup_id = BACKUP_ID.search(done.text).group(0)
        assert backup_id in cli(bot_env["env"], "list", "--json").stdout
        retry = store.get_job(2)
        assert retry.status == JobStatus.SUCCEEDED and retry.params["retry_of"] == 1
        assert retry.requested_by == "U1"

        again = click(bot, fake_slack, RETRY_ACTION, "1", user="U1", name="again")
        assert "already retried as job 2" in again["text"]
        assert [j.id for j in store.list_jobs()] == [2, 1]
    finally:
        _allow_connections(bot_env["db"], True)
        store.close()
        bot.stop()


def test_a_click_with_a_bad_signature_is_refused(bot: Bot, fake_slack: FakeSlack) -> None:
    body = action_body(RETRY_ACTION, "1", user="U1", response_url=fake_slack.response_url("forged"))
    assert post_signed(bot.url, "not-the-secret", body).status_code == 401
    assert requests.get(bot.url.replace("/slack/events", "/healthz"), timeout=5).ok
    assert "forged" not in fake_slack.responses
