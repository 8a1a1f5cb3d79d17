"""The Spanish locale end to end: a dump and a restore request in Spanish, in the fake Slack's record.

A real bot process (`python -m bot`) with ``[slack] locale = "es"`` gets signed `/backup dump`
and `/backup restore latest … --target …` commands and a lead's signed Approve click over
HTTP; the backup and the restore really run (real PostgreSQL, the local S3 server). Every
text the bot sent Slack is then read back from the fake Slack's record — the command
acknowledgements, the answers to the response_url, every message and each of its edits,
every block text, button label and confirm dialog, every thread line — and none of it may
hold English.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from typing import Any

import pytest

from jobs.status import JobStatus
from jobs.store import Store
from tests.bot.conftest import SECRET, Bot
from tests.restore.conftest import Scene, scene  # noqa: F401
from tests.restore.test_slack_restore import BOT_TOKEN, button_value
from tests.support import pg
from tests.support.fake_slack import FakeSlack, Message
from tests.support.i18n import english_words
from tests.support.slack_signing import action_body, post_signed

SLACK_ES = """
[slack]
channel = "C1"
locale = "es"
allowed_users = ["U0DEV", "U0LEAD1"]
"""


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    f = FakeSlack()
    yield f
    f.stop()


@pytest.fixture
def bot(scene: Scene, fake: FakeSlack) -> Iterator[Bot]:  # noqa: F811
    text = scene.cfg_path.read_text().replace('[slack]\nchannel = "C0BACKUPS"\n', SLACK_ES)
    assert 'locale = "es"' in text
    scene.cfg_path.write_text(text)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "SLACK_"))}
    env.update(
        {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": fake.api_url,
            "LOG_LEVEL": "INFO",
        }
    )
    b = Bot(scene.tmp, env).start()
    yield b
    b.stop()


def block_texts(value: Any) -> list[str]:
    """Every text in Block Kit: section and context texts, fields, button labels, confirm dialogs."""
    out: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "text" and isinstance(item, str):
                out.append(item)
            else:
                out += block_texts(item)
    elif isinstance(value, list):
        for item in value:
            out += block_texts(item)
    return out


def recorded_texts(fake: FakeSlack) -> list[str]:
    """What the bot sent Slack: each postMessage / update (text and blocks) and each response_url answer."""
    texts: list[str] = []
    for call in fake.api_calls():
        if call.method in ("chat.postMessage", "chat.update", "chat.postEphemeral"):
            texts.append(str(call.params.get("text", "")))
            blocks = call.params.get("blocks")
            texts += block_texts(json.loads(blocks) if isinstance(blocks, str) else blocks)
    for answers in fake.responses.values():
        for answer in answers:
            texts.append(str(answer.get("text", "")))
            texts += block_texts(answer.get("blocks"))
    return [t for t in texts if t.strip()]


def job_message(fake: FakeSlack, job_id: int) -> Message | None:
    return next((m for m in fake.messages("C1") if f"(tarea {job_id})" in m.text), None)


def wait_status(
    fake: FakeSlack, store: Store, job_id: int, *states: JobStatus, timeout: float = 90
) -> JobStatus:
    return fake.wait_for(
        lambda: store.get_job(job_id).status in states and store.get_job(job_id).status,
        timeout=timeout,
        what=f"job {job_id} in {states}",
    )


def bot_texts(fake: FakeSlack) -> list[str]:
    """The texts bot/ builds itself in each job message: the headline, the context lines (who
    asked, the reason, the decisions), the card's names, every button label and confirm dialog."""
    out: list[str] = []
    for call in fake.api_calls():
        blocks = call.params.get("blocks") if call.method in ("chat.postMessage", "chat.update") else None
        blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
        if not blocks:
            continue
        out.append(blocks[0]["text"]["text"])
        for b in blocks:
            if b["type"] in ("context", "actions"):
                out += block_texts(b["elements"])
            text = b.get("text", {}).get("text", "") if b["type"] == "section" else ""
            if text.startswith("*Copia de seguridad:*"):
                out += [line.split(":*")[0] + ":*" for line in text.splitlines()]
    return out


def run_dump_and_restore(bot: Bot, fake: FakeSlack, scene: Scene) -> list[str]:  # noqa: F811
    """`/backup dump app`, then `/backup restore latest app --target staging` approved by a lead; the acks."""
    store = bot.store()
    acks: list[str] = []

    # A backup, asked for in Slack.
    resp = bot.command(
        'dump app --reason "antes de la migración"', user="U0DEV", response_url=fake.response_url("dump")
    )
    assert resp.status_code == 200
    acks.append(resp.json()["text"])
    [dump] = store.list_jobs(kind="dump")
    assert wait_status(fake, store, dump.id, JobStatus.SUCCEEDED, JobStatus.FAILED) == JobStatus.SUCCEEDED
    done = fake.wait_for(
        lambda: (m := job_message(fake, dump.id)) and "terminada" in m.text and m,
        what="the finished dump message",
    )
    assert "Copia de seguridad de `app` — terminada" in done.text
    fake.wait_for(lambda: fake.thread(done.ts), what="the dump's step lines")

    # A restore of the newest backup into staging: requested, approved by a lead, run.
    resp = bot.command(
        'restore latest app --target staging --reason "simulacro mensual"',
        user="U0DEV",
        response_url=fake.response_url("restore"),
    )
    assert resp.status_code == 200
    acks.append(resp.json()["text"])
    fake.wait_for(lambda: fake.responses.get("restore"), what="the restore request answer")
    [restore] = store.list_jobs(kind="restore")
    request = fake.wait_for(
        lambda: (m := job_message(fake, restore.id)) and "restore_approve" in json.dumps(m.blocks) and m,
        what="the restore request with its buttons",
    )
    shown = block_texts(request.blocks)
    assert "Aprobar" in shown and "¿Aprobar esta restauración?" in shown and "Denegar" in shown
    assert any(t.startswith("*Copia de seguridad:*") for t in "\n".join(shown).splitlines())

    body = action_body(
        "restore_approve",
        button_value(request),
        user="U0LEAD1",
        channel="C1",
        response_url=fake.response_url("approve"),
        message_ts=request.ts,
    )
    assert post_signed(bot.url, SECRET, body).status_code == 200
    assert (
        wait_status(fake, store, restore.id, JobStatus.SUCCEEDED, JobStatus.FAILED) == JobStatus.SUCCEEDED
    ), store.get_job(restore.id).error
    assert pg.table_checksums(scene.target_url) == pg.table_checksums(scene.source_url)
    final = fake.wait_for(
        lambda: (m := job_message(fake, restore.id)) and "terminada" in m.text and m,
        what="the finished restore",
    )
    assert re.search(
        r"<@U0LEAD1> aprobó a las \d\d:\d\d:\d\d UTC", json.dumps(final.blocks, ensure_ascii=False)
    )
    fake.wait_for(lambda: len(fake.thread(final.ts)) >= 8, what="the restore's step lines")
    store.close()

    return acks


def english_left(texts: list[str]) -> dict[str, list[str]]:
    english = {t: english_words(t) for t in texts}
    return {t: words for t, words in english.items() if words}


def test_a_dump_and_an_approved_restore_in_spanish_what_bot_builds_is_spanish(
    bot: Bot,
    fake: FakeSlack,
    scene: Scene,  # noqa: F811
) -> None:
    run_dump_and_restore(bot, fake, scene)
    shown = bot_texts(fake)
    assert "¿Aprobar esta restauración?" in shown and "Cancelar" in shown
    assert any(
        t.startswith(":white_check_mark: *Restauración de `staging`* — terminada (tarea ") for t in shown
    )
    left = english_left(shown)
    assert not left, "English in what bot/ built:\n" + "\n".join(f"{w}: {t!r}" for t, w in left.items())


def test_a_dump_and_an_approved_restore_speak_spanish_in_every_slack_text(
    bot: Bot,
    fake: FakeSlack,
    scene: Scene,  # noqa: F811
) -> None:
    acks = run_dump_and_restore(bot, fake, scene)
    left = english_left([*acks, *recorded_texts(fake)])
    assert not left, "English in what Slack was sent:\n" + "\n".join(f"{w}: {t!r}" for t, w in left.items())
