"""No secret anywhere a person or a log reader could see it, through a whole run from Slack.

A database role whose password holds ``@``, ``:``, ``/`` and ``%`` (percent-encoded in
the URLs, as a URL must have it) is used for every database URL; the bot dumps, a
restore is requested, approved and run, a dump fails, and the CLI is run too. Then every
message the fake Slack received, every private reply, the bot's whole log, every job's
stored error and result, the audit trail, the runbook and the CLI's output are searched
for the password (whole, encoded, and in pieces), the Slack tokens, the signing secret,
the backup key and the storage secret key.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import psycopg
import pytest

from jobs.status import JobStatus
from tests.bot.conftest import SECRET
from tests.engine.conftest import run_cli
from tests.restore.conftest import Scene
from tests.restore.test_slack_restore import (
    BOT_TOKEN,
    click,
    request_restore,
    start_bot,
    wait_status,
)
from tests.support import pg
from tests.support.fake_slack import FakeSlack


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    f = FakeSlack(group_members={"S0LEADS": ["U0LEAD3"]})
    yield f
    f.stop()


@pytest.fixture
def role() -> Iterator[tuple[str, str, list[str]]]:
    """A login role with a password full of URL delimiters; the pieces are what must never show."""
    pieces = [secrets.token_hex(5) for _ in range(4)]
    password = f"{pieces[0]}@{pieces[1]}:{pieces[2]}/{pieces[3]}%"
    name = f"bb_secret_{secrets.token_hex(4)}"
    with psycopg.connect(pg.ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {name} LOGIN SUPERUSER PASSWORD '{password}'")
    try:
        yield name, password, pieces
    finally:
        with psycopg.connect(pg.ADMIN_URL, autocommit=True) as conn:
            conn.execute(f"DROP ROLE IF EXISTS {name}")


def url_as(role: str, password: str, url: str) -> str:
    """The same database, reached as ``role`` with its password percent-encoded."""
    rest = url.split("://", 1)[1].split("@", 1)[1]
    return f"postgresql://{role}:{quote(password, safe='')}@{rest}"


def texts(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, bytes):
        yield value.decode("utf-8", "replace")
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from texts(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from texts(v)
    elif value is not None:
        yield str(value)


def test_no_secret_in_any_message_log_or_error_of_a_whole_run(
    role: tuple[str, str, list[str]], scene: Scene, fake: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # (role first: it is dropped after the scene's databases, which hold its objects)
    name, password, pieces = role
    aws_secret = f"aws{secrets.token_hex(12)}"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", aws_secret)  # the local S3 server takes any key
    for var, url in (
        ("APP_DUMP_URL", scene.source_url),
        ("APP_RESTORE_URL", scene.source_url),
        ("STAGING_DUMP_URL", scene.target_url),
        ("STAGING_RESTORE_URL", scene.target_url),
    ):
        monkeypatch.setenv(var, url_as(name, password, url))
    # a database whose server is not there: the dump fails, and says so
    monkeypatch.setenv("BROKEN_DUMP_URL", f"postgresql://{name}:{quote(password, safe='')}@127.0.0.1:1/gone")
    extra = '\n[databases.broken]\ndump_url_env = "BROKEN_DUMP_URL"\n'
    bot = start_bot(scene, fake, monkeypatch, extra=extra)
    acks: list[Any] = []
    try:
        store = bot.store()
        acks.append(bot.command('dump app --reason "before the drill"', user="U0DEV").json())
        wait_status(fake, store, 1, JobStatus.SUCCEEDED, timeout=120)
        backup_id = store.get_job(1).result["backup_id"]

        job_id, msg = request_restore(bot, fake, scene, "req", ref=backup_id)
        acks.append(click(bot, fake, msg, "U0LEAD1"))
        assert wait_status(fake, store, job_id, JobStatus.SUCCEEDED, JobStatus.FAILED, timeout=180) == (
            JobStatus.SUCCEEDED
        ), store.get_job(job_id).error

        acks.append(bot.command("dump broken", user="U0DEV").json())
        broken = max(j.id for j in store.list_jobs())
        wait_status(fake, store, broken, JobStatus.FAILED, timeout=120)
        acks.append(bot.command(f"status {broken}", user="U0DEV").json())
        acks.append(bot.command("list app", user="U0DEV").json())
        fake.wait_for(lambda: store.get_job(broken).status == JobStatus.FAILED and fake.messages("C1"))
        jobs = [j.__dict__ for j in store.list_jobs(limit=100)]
        audit = [dict(r) for j in store.list_jobs(limit=100) for r in store.audit_rows(j.id)]
        store.close()
    finally:
        bot.stop()
    cli = [run_cli("dump", "--database", "broken"), run_cli("list")]
    assert cli[0].returncode != 0 and "gone" in cli[0].stderr + cli[0].stdout  # it failed, and said where

    seen = {
        "Slack API calls": [c.params for c in fake.api_calls()],
        "replies to response_url": fake.responses,
        "acknowledgements": acks,
        "bot log": bot.log.read_text(),
        "jobs in the store": jobs,
        "audit trail": audit,
        "runbook": scene.runbook_file.read_text() if scene.runbook_file.exists() else "",
        "CLI output": [(p.stdout, p.stderr) for p in cli],
    }
    hunted = {
        "the password": password,
        "the password, URL-encoded": quote(password, safe=""),
        **{f"a piece of the password ({p})": p for p in pieces},
        "the bot token": BOT_TOKEN,
        "the signing secret": SECRET,
        "the backup key": os.environ["BACKUPBOT_KEY"],
        "the storage secret key": aws_secret,
    }
    assert any("failed" in t for t in texts(seen["Slack API calls"]))  # the failure reached the channel
    assert any("127.0.0.1" in t for t in texts(seen["jobs in the store"]))  # and said which server
    for where, value in seen.items():
        for text in texts(value):
            for what, secret in hunted.items():
                assert secret not in text, (
                    f"{what} is in the {where}: …{text[max(0, text.find(secret) - 80) :][:200]}…"
                )
