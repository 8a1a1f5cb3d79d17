"""The App Home tab says, per database, whether the newest good backup was verified and how the last drill went.

It says so in Spanish too, when the team's locale is Spanish.

A real verification and a real drill run as jobs (runner, store, the verification server on
the local PostgreSQL); the tab is published through the real listener code to the fake Slack,
and the test reads what ``views.publish`` carried, as the person opening the tab would see it.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from bot.listeners.home import publish
from bot.services import Services
from bot.slack_client import make_client
from commands.permissions import GroupDirectory
from core import i18n
from jobs.queue import enqueue
from jobs.status import JobStatus
from tests.scheduler.conftest import fake_slack, make_bot  # noqa: F401
from tests.support.fake_slack import FakeSlack, message_problems
from tests.support.i18n import english_words
from tests.verify.conftest import VerifyScene, verify_scene  # noqa: F401


def home_text(fake: FakeSlack, services: Services, user: str = "U1") -> str:
    before = len(fake.api_calls("views.publish"))
    publish(make_client("xoxb-test-token"), {"services": services}, user)  # type: ignore[arg-type]
    calls = fake.api_calls("views.publish")
    assert len(calls) == before + 1, "the tab was not published"
    view: Any = calls[-1].params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert view["type"] == "home" and calls[-1].params["user_id"] == user
    assert message_problems({"blocks": view["blocks"][:50]}) == []  # Slack would take its blocks
    return "\n".join(b["text"]["text"] for b in view["blocks"] if b["type"] == "section")


def test_home_shows_the_verification_of_the_newest_backup_and_the_last_drill(
    verify_scene: VerifyScene,  # noqa: F811
    make_bot: Any,  # noqa: F811
    fake_slack: FakeSlack,  # noqa: F811
) -> None:
    cfg = verify_scene.cfg
    bot = make_bot(cfg)
    services = Services(
        cfg=cfg, store=bot.store, reporter=bot.reporter, directory=GroupDirectory(None), runner=bot.runner
    )
    backup = verify_scene.backup

    before = home_text(fake_slack, services)
    assert f"newest good backup `{backup.id}`" in before
    assert ":grey_question: not verified yet — `/backup verify latest app`" in before
    assert "no restore drill yet" in before

    verify = enqueue(bot.store, "verify", "app", {"backup_id": backup.id}, requested_by="U1", channel="C1")
    assert bot.wait_job(verify, timeout=120).status == JobStatus.SUCCEEDED
    drill = enqueue(bot.store, "drill", "app", {}, requested_by="scheduler", channel="C1")
    drilled = bot.wait_job(drill, timeout=120)
    assert drilled.status == JobStatus.SUCCEEDED, drilled.error

    after = home_text(fake_slack, services)  # at once: the jobs that ended refresh the listing
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    lines = after.splitlines()
    at = lines.index("*app*")
    assert lines[at + 1].startswith(f":white_check_mark: newest good backup `{backup.id}`")
    assert lines[at + 3] == f":white_check_mark: verified {today}"
    seconds = f"{drilled.result['seconds']:.1f}"
    assert lines[at + 4] == (
        f":white_check_mark: last drill passed {today}, recovered in {seconds} s (job {drilled.id})"
    )

    # The backup turns out to lie about its rows: the next drill's verification fails, and the tab
    # says both, with the job to look at.
    verify_scene.rewrite_manifest({"contents/tables/public.invoices": 451})
    second = bot.wait_job(enqueue(bot.store, "drill", "app", {}, requested_by="scheduler", channel="C1"), 120)
    assert second.status == JobStatus.FAILED
    failed = home_text(fake_slack, services).splitlines()
    assert failed[at + 3] == f":x: verification FAILED {today} (step 3)"
    assert failed[at + 4] == f":x: last drill failed {today} (job {second.id}): `/backup status {second.id}`"

    # The same tab for a Spanish-speaking team: every line of it in Spanish.
    i18n.set_locale("es")
    spanish = home_text(fake_slack, services)
    es = spanish.splitlines()
    assert es[at + 3] == f":x: la verificación FALLÓ el {today} (paso 3)"
    # the job state's word is jobs/' ("fallida", a job; another catalog still has "fallido")
    assert re.fullmatch(
        rf":x: último simulacro \(tarea {second.id}\): fallid[ao] el {today} — `/backup status {second.id}`",
        es[at + 4],
    ), es[at + 4]
    assert "*Bases de datos*" in es and "*Tareas en curso*" in es
    assert [line for line in es if english_words(line)] == []
