"""With ``[slack] locale = "es"`` on-call read the schedule's alerts, and a requester the approval rules, in Spanish.

What a Spanish-speaking on-call engineer must not meet at 3 a.m.: an alert that is half
English, or one that no longer says which database failed, which job, and what to do
next. The failures are real: the scheduler's own slot, a dump of a database that does
not exist, a job whose process died under it; the alert is the one the fake Slack got.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from commands.base import Invocation
from commands.grammar import dispatch
from commands.permissions import GroupDirectory
from core import i18n
from core.config import Config, load_config
from jobs.approvals import create_request
from jobs.history import history
from jobs.runner import Runner
from jobs.scheduler import Scheduler
from jobs.status import JobStatus
from tests.scheduler.conftest import ALERTS, SimClock
from tests.support import pg
from tests.support.backups import write_backup
from tests.support.fake_slack import FakeSlack
from tests.support.i18n import english_words

pytestmark = pytest.mark.usefixtures("state_backend")  # the store's suite runs on SQLite and PostgreSQL


@pytest.fixture(autouse=True)
def english_afterwards() -> Iterator[None]:
    """The locale is process-wide: whatever a test loads, the next test starts in English."""
    yield
    i18n.set_locale("en")


def spanish(cfg: Config) -> Config:
    """The same config file with ``[slack] locale = "es"``, loaded the way the bot loads it."""
    path = cfg.path
    text = open(path, encoding="utf-8").read()
    assert "\n[slack]\n" in text
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text.replace("\n[slack]\n", '\n[slack]\nlocale = "es"\n', 1))
    loaded = load_config(str(path))
    assert i18n.current_locale() == "es"
    return loaded


def block_texts(blocks: list[dict[str, Any]]) -> list[str]:
    """Every text a person reads in the blocks: sections, fields and button labels."""
    out: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if isinstance(value.get("text"), str):
                out.append(value["text"])
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(blocks)
    return out


def dead_worker() -> str:
    """A worker id of this host whose process has exited: what a killed bot leaves on its jobs."""
    child = subprocess.Popen(["true"])  # noqa: S607 - a fixed argv, no shell
    child.wait()
    return f"{socket.gethostname()}:{child.pid}:dead0001"


def test_a_nightly_whose_process_died_alerts_oncall_in_spanish(
    make_cfg: Any, make_bot: Any, fake_slack: FakeSlack, backup_key: str
) -> None:
    cfg = spanish(make_cfg(pg.url_for("unused"), schedule="* * * * *", local_storage=True))
    bot = make_bot(cfg, run_jobs=False)
    now = datetime.now(UTC).replace(microsecond=0)
    clock = SimClock(now)
    scheduler = Scheduler(cfg, bot.store, bot.reporter, clock=clock)
    scheduler.tick()

    # The scheduler queues the nightly; a worker takes it and its process dies mid-run.
    clock.now = now + timedelta(seconds=61)
    [nightly] = scheduler.tick()
    assert bot.store.claim_job(nightly, dead_worker(), heartbeat_at=time.time(), attempts=1)
    # The next runner to start finds it, marks it interrupted; the scheduler's follow-up alerts.
    [found] = Runner(cfg, bot.store, bot.reporter).recover()
    assert found.id == nightly.id and bot.store.get_job(nightly.id).status == JobStatus.INTERRUPTED
    scheduler.tick()
    bot.flush()

    [alert] = fake_slack.messages(ALERTS)
    # what happened, to which database, which job
    assert f"Tarea programada {nightly.id} (copia de seguridad de `prod`): interrumpida" in alert.text
    assert "<!subteam^S0ONCALL>" in alert.text
    assert (
        "Se estaba ejecutando en la base de datos 'prod' cuando el proceso que la ejecutaba se detuvo"
        in alert.text
    )
    assert "Su subida no había empezado, así que no quedó nada a medias." in alert.text
    # and what to do next: run it again (the command, or the Retry button under the alert)
    assert "Vuelve a ejecutarla, p. ej. `/backup dump prod`." in alert.text
    button = next(e for b in alert.blocks if b["type"] == "actions" for e in b["elements"])
    assert button["value"] == str(nightly.id)
    assert english_words(alert.text) == []
    texts = block_texts(alert.blocks)
    assert texts and all(english_words(t) == [] for t in texts), [english_words(t) for t in texts]


def test_no_good_backup_for_a_day_and_a_half_is_told_in_spanish(
    make_cfg: Any, make_bot: Any, fake_slack: FakeSlack
) -> None:
    """The dead-man's switch: nothing failed loudly, backups just stopped; on-call hear it, then hear it end."""
    cfg = spanish(make_cfg(pg.url_for("unused"), local_storage=True))
    bot = make_bot(cfg, run_jobs=False)
    t0 = datetime(2026, 5, 1, 3, 0, tzinfo=UTC)
    newest = write_backup(cfg, "prod", "daily", t0)
    clock = SimClock(t0 + timedelta(minutes=10))
    scheduler = Scheduler(cfg, bot.store, bot.reporter, clock=clock)
    clock.now = t0 + timedelta(hours=27)
    scheduler.check_freshness(clock.now)
    bot.flush()
    [stale] = fake_slack.messages(ALERTS)
    assert "Ninguna copia buena de `prod` en 27 h" in stale.text
    assert f"La copia buena más reciente es `{newest.id}`, hecha el 2026-05-01 03:00 UTC." in stale.text
    assert "haz una copia ahora con `/backup dump prod`" in stale.text  # what to do next
    assert english_words(stale.text) == [] and all(english_words(t) == [] for t in block_texts(stale.blocks))

    write_backup(cfg, "prod", "manual", t0 + timedelta(hours=28))
    clock.now = t0 + timedelta(hours=28, minutes=10)
    scheduler.check_freshness(clock.now)
    bot.flush()
    fresh = fake_slack.messages(ALERTS)[-1]
    assert "Las copias de `prod` vuelven a estar al día" in fresh.text and english_words(fresh.text) == []


def test_a_failed_nightly_says_in_spanish_which_database_and_job(
    make_cfg: Any, make_bot: Any, fake_slack: FakeSlack, backup_key: str
) -> None:
    """The dump of a database that does not exist: the alert's own words are Spanish.

    The error under them is the dump's (engine/ and adapters/ write it, PostgreSQL's own
    words included), so only the alert's headline is held to "no English" here.
    """
    missing = pg.url_for(f"bbt_missing_{uuid.uuid4().hex[:8]}")
    cfg = spanish(make_cfg(missing, schedule="* * * * *", local_storage=True))
    bot = make_bot(cfg)
    now = datetime.now(UTC).replace(microsecond=0)
    clock = SimClock(now)
    scheduler = Scheduler(cfg, bot.store, bot.reporter, clock=clock)
    scheduler.tick()
    clock.now = now + timedelta(seconds=61)
    [failed] = scheduler.tick()
    assert bot.wait_job(failed).status == JobStatus.FAILED
    scheduler.tick()
    bot.flush()

    [alert] = fake_slack.messages(ALERTS)
    headline = alert.blocks[0]["text"]["text"]
    assert f"Tarea programada {failed.id} (copia de seguridad de `prod`): fallida" in headline
    assert english_words(headline) == []
    error = bot.store.get_job(failed.id).error
    assert (
        error["message"] in alert.text and error["hint"] in alert.text
    )  # the dump's own error and next step
    button = next(e for b in alert.blocks if b["type"] == "actions" for e in b["elements"])
    assert button["value"] == str(failed.id)


def test_a_requester_approving_their_own_restore_is_told_no_in_spanish(make_cfg: Any, make_bot: Any) -> None:
    cfg = spanish(make_cfg(pg.url_for("unused"), local_storage=True))
    bot = make_bot(cfg, run_jobs=False)
    job = create_request(
        bot.store,
        cfg,
        backup_id="prod-20261201T030000Z-daily-1abc",
        target="prod",
        requested_by="U0DEV",
        channel="CJOBS",
    )
    inv = Invocation(user="U0DEV", channel="CJOBS", cfg=cfg, store=bot.store, directory=GroupDirectory(None))
    reply = dispatch(f"approve {job.id}", inv).text
    assert (
        "Tú pediste esta restauración, así que no puedes aprobarla: pídeselo a <!subteam^S0LEADS>." in reply
    )
    assert english_words(reply) == []
    assert bot.store.get_job(job.id).status == JobStatus.AWAITING_APPROVAL  # nothing moved
    refused = [r for r in bot.store.audit_rows(job.id) if r["event"] == "approve_refused"]
    assert [json.loads(r["detail"]) if isinstance(r["detail"], str) else r["detail"] for r in refused] == [
        {"why": "own request"}  # the key stays English in the audit row; only what people read is Spanish
    ]
    # ... as the history shows it: who asked for what, and who was refused what
    lines = [e.what for e in history(bot.store, "prod")]
    assert lines == [
        "no pudo aprobar: es su propia solicitud",
        f"pidió restaurar {job.params['backup_id']} en prod",
    ]
    assert all(english_words(line) == [] for line in lines)
