"""Freezes as the leads and the people refused meet them: typed at the console (the same grammar
and runner as Slack), with a real backup in a local bucket and real PostgreSQL targets."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.console import plain
from core.config import parse_config
from core.errors import BackupbotError
from jobs.approvals import create_request, decide
from jobs.context import JobContext
from jobs.events import NullReporter, StepResult
from jobs.freeze import Frozen, freeze, is_frozen, unfreeze
from jobs.kinds import get_kind
from jobs.scheduled_retention import apply_after_dump
from jobs.status import JobStatus
from jobs.store import DB_FILE, Store
from tests.bot.test_console import RestoreConsole

pytestmark = pytest.mark.usefixtures("state_backend")  # the store's suite runs on SQLite and PostgreSQL

REASON = "incident <42> & audit"
WHO = re.escape("frozen by @U0LEAD1 since ") + r"\d{4}-\d\d-\d\d \d\d:\d\d UTC: " + re.escape(f'"{REASON}"')


def test_a_freeze_refuses_restores_and_prunes_with_its_reason_until_unfrozen(
    restore_console: RestoreConsole,
) -> None:
    rc = restore_console
    lines = rc.run(
        f'freeze scratch --reason "{REASON}"\n'
        f'/as U0LEAD1\nfreeze scratch --reason "{REASON}"\nfreeze scratch --reason "again"\n'
        "/as U0DEV\nrestore latest app --target scratch\ndump scratch\n"
        "/as U0LEAD1\nprune scratch --confirm\nprune scratch\n/as U0DEV\nunfreeze scratch\n"
    )
    text = "\n".join(lines)
    assert "[!] only a lead of 'scratch' may freeze it" in lines
    assert "@U0LEAD1 froze `scratch`: restores and prunes of it are refused until a lead runs " in text
    assert f'Reason: "{REASON}"' in text  # escaped for Slack, shown as typed here
    assert re.search(r"`scratch` is already " + WHO, text), text
    refusals = [i for i, line in enumerate(lines) if line.startswith("[!] 'scratch' is frozen")]
    assert [lines[i] for i in refusals] == [
        "[!] 'scratch' is frozen: no restore until a lead unfreezes it",
        "[!] 'scratch' is frozen: no prune until a lead unfreezes it",
    ]
    for i in refusals:
        assert re.fullmatch(
            "scratch was " + WHO + r"\. Nothing was changed\. Backups still run\.", lines[i + 1]
        )
        assert (
            lines[i + 2]
            == "When the incident or audit is over, one of its leads runs `/backup unfreeze scratch`."
        )
    assert "[!] only a lead of 'scratch' may unfreeze it" in lines
    assert re.search(r"`scratch` is " + WHO + r": `--confirm` is refused until it is unfrozen\.", text), text
    # dumps keep running; nothing else was queued
    assert re.search(r"\[job 2\] done: Backup `scratch-\d{8}T\d{6}Z-manual-[0-9a-z]{4}` stored", text), text
    assert not any(line.startswith("[job 3]") for line in lines), text

    lines = rc.run(
        "/as U0LEAD1\nunfreeze scratch\nunfreeze scratch\nprune scratch --confirm\n"
        "/as U0DEV\nrestore latest app --target scratch\n"
    )
    text = "\n".join(lines)
    assert re.search(r"@U0LEAD1 unfroze `scratch` \(it was " + WHO + r"\)\.", text), text
    assert "`scratch` is not frozen; nothing changed." in lines
    assert "Queued pruning of `scratch` as job 3." in text
    assert "[job 3] done: " in text
    assert "Restore request 4 posted: " in text
    assert rc.job(4).status == JobStatus.AWAITING_APPROVAL

    store = Store(rc.tmp / "state" / DB_FILE)
    try:
        rows = [r for r in store.audit_rows() if r["event"] in ("frozen", "unfrozen", "refused_frozen")]
    finally:
        store.close()
    assert [(r["event"], r["actor"], r["detail"].get("action")) for r in rows] == [
        ("frozen", "U0LEAD1", None),
        ("refused_frozen", "U0DEV", "restore"),
        ("refused_frozen", "U0LEAD1", "prune"),
        ("unfrozen", "U0LEAD1", None),
    ]
    assert rows[0]["detail"]["reason"] == REASON and rows[-1]["detail"]["lifted_by"] == "U0LEAD1"


def _cfg(tmp_path: Path):  # type: ignore[no-untyped-def]
    return parse_config(
        {
            "storage": {"url": (tmp_path / "store").as_uri()},
            "databases": {"staging": {"dump_url_env": "X", "approvers": ["U0LEAD1", "U0LEAD2"]}},
        },
        "test.toml",
    )


def test_a_request_made_before_the_freeze_cannot_be_approved_or_run(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    store = Store(tmp_path / "bb.sqlite3")
    job = create_request(
        store,
        cfg,
        backup_id="app-20260101T030000Z-daily",
        target="staging",
        requested_by="U0DEV",
        channel="C1",
    )
    freeze(store, "staging", "U0LEAD1", "audit")
    refused = decide(store, cfg, job.id, "U0LEAD2", "approve", job.params["binding"])
    assert refused.outcome == "frozen" and not refused.changed
    assert "'staging' is frozen: no restore" in refused.reply and '"audit"' in refused.reply
    assert store.get_job(job.id).status == JobStatus.AWAITING_APPROVAL

    # Approved while it was not frozen, frozen before the runner took it: the job itself refuses.
    assert unfreeze(store, "staging", "U0LEAD1") is not None
    assert decide(store, cfg, job.id, "U0LEAD2", "approve", job.params["binding"]).outcome == "approved"
    freeze(store, "staging", "U0LEAD1", "audit")
    ctx = JobContext(cfg=cfg, store=store, job=store.get_job(job.id), reporter=NullReporter())
    with pytest.raises(Frozen) as err:
        get_kind("restore").run(ctx)
    assert "no restore" in err.value.message and "U0LEAD1" in (err.value.detail or "")
    store.close()


class Steps(NullReporter):
    def __init__(self) -> None:
        self.steps: list[StepResult] = []

    def step(self, job, step: StepResult) -> None:  # type: ignore[no-untyped-def, override]
        self.steps.append(step)


def test_scheduled_retention_skips_a_frozen_database(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    store = Store(tmp_path / "bb.sqlite3")
    job = store.create_job("dump", "staging", {"schedule": "dump:staging"}, requested_by="scheduler")
    freeze(store, "staging", "U0LEAD1", "audit")
    rep = Steps()

    def no_storage():  # type: ignore[no-untyped-def]
        raise BackupbotError("retention must not touch the bucket while frozen")

    assert apply_after_dump(cfg, store, rep, rep, no_storage, job, datetime.now(UTC)) == "frozen"
    assert [(s.name, s.status) for s in rep.steps] == [("retention", "skipped")]
    assert "frozen by <@U0LEAD1>" in rep.steps[0].detail
    assert plain(rep.steps[0].detail).startswith("staging is frozen by @U0LEAD1")
    assert is_frozen(store, "staging") is not None
    store.close()


def test_break_glass_and_cli_prune_respect_a_freeze_set_in_slack(restore_console: RestoreConsole) -> None:
    import subprocess
    import sys

    from jobs.people import remember

    rc = restore_console
    store = Store(rc.tmp / "state" / DB_FILE)
    remember(store, "U0LEAD1", "lead.bo")
    store.close()
    rc.run('/as U0LEAD1\nfreeze scratch --reason "audit"\n')
    for args in (
        ["restore", "latest:app", "--target", "scratch", "--break-glass", "--reason", "now"],
        ["prune", "--database", "scratch", "--confirm"],
    ):
        out = subprocess.run(
            [sys.executable, "-m", "cli", *args],
            cwd=rc.tmp,
            env=rc.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert out.returncode == 1, out.stderr
        assert "ERROR: 'scratch' is frozen: no " in out.stderr
        assert re.search(r'DETAIL: scratch was frozen by @lead\.bo since .+ UTC: "audit"\.', out.stderr), (
            out.stderr
        )
    assert rc.job(1).status == JobStatus.SUCCEEDED  # the console's backup; nothing else ran
