"""Retention after a good scheduled dump, and what on-call hear about it.

Retention is the one part of a nightly that nobody watches: the backup's message says
"stored", and the retention line sits in its thread. So two ways it can stop working are
also told to the alert channel, each once per streak of nights, each followed by one
message when it works again:

* held — the pruning guard kept backups the policy would delete (a failing schedule, a
  worker whose clock is wrong). Deliberate, but if it holds every night the bucket grows.
* failed — retention itself broke: storage refused a delete (a 403 from a policy, missing
  ``s3:DeleteObject``), listing the bucket failed, or anything else raised. The backup
  just taken is fine; the old ones pile up, billed, until someone fixes it.

A streak is a state in the store's kv table (``retention:DB:held`` / ``retention:DB:failing``),
set and cleared inside the same transaction that records the alert (``jobs.alerts.announce``),
so a streak alerts once across processes and a crash cannot lose or repeat it. A failing
run ends a held streak: the guard let it through, so "on hold" is no longer the news.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Literal

from adapters.storage import Storage
from core.config import Config
from core.errors import BackupbotError
from core.redact import redact
from jobs import schedule_runs
from jobs.alerts import announce, oncall_mention
from jobs.events import Alert, Reporter, StepResult
from jobs.freeze import is_frozen
from jobs.schedule_runs import iso
from jobs.store import Job, Store

log = logging.getLogger(__name__)

Outcome = Literal["ok", "held", "failed", "frozen"]
SHOWN_IDS = 5  # backup ids named in an alert; the rest are counted


def _held_key(database: str) -> str:
    return f"retention:{database}:held"


def _failing_key(database: str) -> str:
    return f"retention:{database}:failing"


def _since(state: dict[str, str]) -> str:
    return f"{state.get('since', '?')[:16].replace('T', ' ')} UTC"


def _ids(ids: list[str]) -> str:
    shown = ", ".join(f"`{i}`" for i in ids[:SHOWN_IDS])
    return shown + (f" and {len(ids) - SHOWN_IDS} more" if len(ids) > SHOWN_IDS else "")


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, BackupbotError):
        return redact(exc.message)
    return redact(f"unexpected {type(exc).__name__}: {exc}")


def apply_after_dump(
    cfg: Config,
    store: Store,
    reporter: Reporter,
    alert_reporter: Reporter,
    storage: Callable[[], Storage],
    job: Job,
    now: datetime,
) -> Outcome:
    """Prune after a good scheduled dump, guard included; the result goes into the dump's thread.

    Any exception is caught here, not by the scheduler's catch-all, because a retention
    that raises must still reach on-call; ``reporter`` is the thread's (guarded),
    ``alert_reporter`` the alert channel's (unguarded, see ``jobs.alerts``).
    """
    from engine.prune import PruneSummary, apply_prune, plan_prune

    database = str(job.database)
    frozen = is_frozen(store, database)
    if frozen is not None:
        reporter.step(job, StepResult("retention", "skipped", detail=f"{database} is {frozen.describe()}"))
        store.audit(job.id, "retention", "scheduler", {"skipped": "frozen", **frozen.as_dict()})
        return "frozen"
    try:
        last_failure = schedule_runs.last_scheduled_failure(store, database)
        plan = plan_prune(cfg, database, now=now, last_failure=last_failure, storage=storage())
        plan = apply_prune(cfg, plan, storage())
    except Exception as exc:
        text = _error_text(exc)
        if isinstance(exc, BackupbotError):
            log.warning("retention for %s failed: %s", database, redact(exc.render()))
        else:
            log.exception("retention for %s failed", database)
        reporter.step(job, StepResult("retention", "failed", detail=text))
        retention_failed(
            cfg, store, alert_reporter, job, f"retention of '{database}' did not run: {text}", [], now
        )
        store.audit(job.id, "retention", "scheduler", {"error": text})
        return "failed"
    summary = PruneSummary.of(plan)
    store.audit(
        job.id,
        "retention",
        "scheduler",
        {"deleted": summary.ids_deleted, "guard": plan.guard, "failed": [i.backup_id for i in plan.failed]},
    )
    status = "failed" if plan.failed else ("skipped" if plan.guard else "ok")
    reporter.step(job, StepResult("retention", status, detail=summary.line()))
    if plan.guard or plan.failed:
        log.warning("retention for %s: %s", database, summary.line())
    if plan.guard:
        held = [i.backup_id for i in plan.items if "pruning guard" in i.reasons]
        retention_held(cfg, store, alert_reporter, job, plan.guard, held, now)
        return "held"
    if plan.failed:
        tried = len(plan.failed) + len(plan.deleted)
        message = (
            f"retention of '{database}' could not delete {len(plan.failed)} of {tried} old backup(s): "
            f"{plan.failed[0].error}"
        )
        retention_failed(cfg, store, alert_reporter, job, message, [i.backup_id for i in plan.failed], now)
        return "failed"
    retention_resumed(cfg, store, alert_reporter, job, summary.line())
    retention_recovered(cfg, store, alert_reporter, job, summary.line())
    return "ok"


# ------------------------------------------------------------------ held by the pruning guard


def retention_held(
    cfg: Config, store: Store, reporter: Reporter, job: Job, guard: str, held: list[str], now: datetime
) -> bool:
    """The pruning guard kept backups the policy would delete: tell on-call once per streak.

    Without this the only trace is a line in the nightly's thread, and a guard that trips
    every night (a worker whose clock is wrong, a schedule that keeps failing between good
    runs) would silently let the bucket grow. The streak ends at the next unguarded run.
    """
    database = str(job.database)
    state_key = _held_key(database)

    def claim() -> bool:
        if store.kv_get(state_key):
            return False
        store.kv_set(state_key, {"since": iso(now), "job_id": job.id, "reason": guard})
        return True

    kept = f"{len(held)} backup(s) the retention policy would delete were kept: {_ids(held)}." if held else ""
    if "failed" in guard:
        hint = (
            "Fix the failing scheduled backup first (its alert is in this channel); pruning resumes by "
            "itself after the next good scheduled backup."
        )
    else:
        hint = (
            f"Check the backups' times with `/backup list {database}` and the clock of the host that runs "
            "jobs; pruning resumes by itself once a good scheduled backup is newer than the limit. "
            f"`/backup prune {database}` shows what would be deleted."
        )
    alert = Alert(
        title=f"Retention of `{database}` is on hold: the pruning guard kept old backups after job {job.id}",
        severity="warning",
        database=database,
        error={
            "message": f"nothing was pruned on '{database}': {guard}",
            "detail": f"{kept} The bucket grows until pruning resumes.".strip(),
            "hint": hint,
        },
        job_id=job.id,
        mention=oncall_mention(cfg),
    )
    return announce(store, reporter, f"retention-held:{database}:{job.id}", alert, claim)


def retention_resumed(cfg: Config, store: Store, reporter: Reporter, job: Job, line: str) -> bool:
    """The first good scheduled prune after a held streak: say so, once."""
    database = str(job.database)
    return _end_streak(
        cfg,
        store,
        reporter,
        job,
        _held_key(database),
        f"retention-resumed:{database}:{job.id}",
        lambda since: (
            f"Retention of `{database}` runs again (job {job.id}): {line}. "
            f"The pruning guard had held it since {since}."
        ),
    )


def _end_streak(
    cfg: Config,
    store: Store,
    reporter: Reporter,
    job: Job,
    state_key: str,
    alert_key: str,
    title: Callable[[str], str],
) -> bool:
    """Close a held or failing streak with one recovery message; the kv claim makes it once."""
    state = store.kv_get(state_key)
    if not state:
        return False

    def claim() -> bool:
        if not store.kv_get(state_key):
            return False
        store.kv_set(state_key, None)
        return True

    alert = Alert(
        title=title(_since(state)),
        severity="recovered",
        database=str(job.database),
        job_id=job.id,
        mention=oncall_mention(cfg),
    )
    return announce(store, reporter, alert_key, alert, claim)


# ----------------------------------------------------------------------- retention failing


def retention_failed(
    cfg: Config,
    store: Store,
    reporter: Reporter,
    job: Job,
    message: str,
    not_deleted: list[str],
    now: datetime,
) -> bool:
    """Retention broke after a good scheduled dump: tell on-call once per streak of failing runs.

    ``message`` says what failed (already redacted); ``not_deleted`` are the backups whose
    delete was refused (empty when retention failed before deleting anything).
    """
    database = str(job.database)
    state_key = _failing_key(database)

    def claim() -> bool:
        if store.kv_get(_held_key(database)):
            store.kv_set(_held_key(database), None)  # the guard let this run through: that streak is over
        if store.kv_get(state_key):
            return False
        store.kv_set(state_key, {"since": iso(now), "job_id": job.id})
        return True

    backup_id = (job.result or {}).get("backup_id")
    new = f"The new backup `{backup_id}` is stored and listed" if backup_id else "The new backup is stored"
    if not_deleted:
        left = (
            f"{len(not_deleted)} backup(s) the retention policy would delete are still in the bucket: "
            f"{_ids(not_deleted)}."
        )
        check = (
            "Check that the bot's storage credentials may delete objects (`s3:DeleteObject` on the "
            "bucket's prefix; no bucket policy or Object Lock refusing it)"
        )
    else:
        left = "No old backup was deleted."
        check = (
            "Check that the bucket answers and that the bot's storage credentials may list and delete "
            "objects (`s3:ListBucket`, `s3:DeleteObject`)"
        )
    alert = Alert(
        title=f"Retention of `{database}` failed after job {job.id}: old backups were not deleted "
        "(the new backup is fine)",
        severity="warning",
        database=database,
        error={
            "message": message,
            "detail": f"{new}; only the clean-up failed. {left} Old backups stay, and are billed, "
            "until retention works.",
            "hint": f"{check}, then run `backupbot prune --database {database}` to see the plan "
            f"(`--confirm` deletes). Retention runs again after each good scheduled backup; "
            "this channel hears when it works.",
        },
        job_id=job.id,
        mention=oncall_mention(cfg),
    )
    return announce(store, reporter, f"retention-failed:{database}:{job.id}", alert, claim)


def retention_recovered(cfg: Config, store: Store, reporter: Reporter, job: Job, line: str) -> bool:
    """The first good scheduled prune after a failing streak: say so, once."""
    database = str(job.database)
    return _end_streak(
        cfg,
        store,
        reporter,
        job,
        _failing_key(database),
        f"retention-recovered:{database}:{job.id}",
        lambda since: (
            f"Retention of `{database}` works again (job {job.id}): {line}. "
            f"It had been failing since {since}."
        ),
    )
