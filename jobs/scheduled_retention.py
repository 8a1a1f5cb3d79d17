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
from typing import Any, Literal

from adapters.storage import Storage
from core.config import Config
from core.errors import BackupbotError
from core.i18n import _, ngettext
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
    if len(ids) <= SHOWN_IDS:
        return shown
    return _("{ids} and {n} more").format(ids=shown, n=len(ids) - SHOWN_IDS)


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, BackupbotError):
        return redact(exc.message)
    return redact(_("unexpected {error}: {text}").format(error=type(exc).__name__, text=exc))


def _held_after_failure(plan: Any, last_failure: datetime | None) -> bool:
    """Whether the guard held because the latest scheduled run failed (not because backups are old).

    The same rule as ``engine.prune.guard_reason``, decided on the data and not on its
    sentence, which is in the configured language.
    """
    from engine.prune import backup_ref
    from engine.retention import SCHEDULED_KINDS

    if last_failure is None:
        return False
    refs = [backup_ref(i.manifest) for i in plan.items]
    good = [r.created_at for r in refs if r.good and r.kind in SCHEDULED_KINDS]
    return not good or max(good) <= last_failure


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
        reporter.step(job, StepResult(_("retention"), "skipped", detail=frozen.sentence()))
        store.audit(job.id, "retention", "scheduler", {"skipped": "frozen", **frozen.as_dict()})
        return "frozen"
    last_failure = None
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
        reporter.step(job, StepResult(_("retention"), "failed", detail=text))
        message = _("retention of '{db}' did not run: {error}").format(db=database, error=text)
        retention_failed(cfg, store, alert_reporter, job, message, [], now)
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
    reporter.step(job, StepResult(_("retention"), status, detail=summary.line()))
    if plan.guard or plan.failed:
        # counts, not summary.line(): that is written in the team's language, logs stay English
        log.warning(
            "retention for %s: held=%s kept=%d deleted=%d failed=%d",
            database,
            bool(plan.guard),
            summary.kept + summary.locked,
            summary.deleted,
            summary.failed,
        )
    if plan.guard:
        held = [i.backup_id for i in plan.items if "pruning guard" in i.reasons]
        after_failure = _held_after_failure(plan, last_failure)
        retention_held(cfg, store, alert_reporter, job, plan.guard, held, now, after_failure=after_failure)
        return "held"
    if plan.failed:
        tried = len(plan.failed) + len(plan.deleted)
        message = _("retention of '{db}' could not delete {failed} of {n} old backup(s): {error}").format(
            db=database, failed=len(plan.failed), n=tried, error=plan.failed[0].error
        )
        retention_failed(cfg, store, alert_reporter, job, message, [i.backup_id for i in plan.failed], now)
        return "failed"
    retention_resumed(cfg, store, alert_reporter, job, summary.line())
    retention_recovered(cfg, store, alert_reporter, job, summary.line())
    return "ok"


# ------------------------------------------------------------------ held by the pruning guard


def retention_held(
    cfg: Config,
    store: Store,
    reporter: Reporter,
    job: Job,
    guard: str,
    held: list[str],
    now: datetime,
    *,
    after_failure: bool = False,
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

    grows = _("The bucket grows until pruning resumes.")
    if held:
        kept = ngettext(
            "{n} backup the retention policy would delete was kept: {ids}.",
            "{n} backups the retention policy would delete were kept: {ids}.",
            len(held),
        ).format(n=len(held), ids=_ids(held))
        detail = f"{kept} {grows}"
    else:
        detail = grows
    if after_failure:
        hint = _(
            "Fix the failing scheduled backup first (its alert is in this channel); pruning resumes by "
            "itself after the next good scheduled backup."
        )
    else:
        hint = _(
            "Check the backups' times with `/backup list {db}` and the clock of the host that runs "
            "jobs; pruning resumes by itself once a good scheduled backup is newer than the limit. "
            "`/backup prune {db}` shows what would be deleted."
        ).format(db=database)
    alert = Alert(
        title=_("Retention of `{db}` is on hold: the pruning guard kept old backups after job {id}").format(
            db=database, id=job.id
        ),
        severity="warning",
        database=database,
        error={
            "message": _("nothing was pruned on '{db}': {guard}").format(db=database, guard=guard),
            "detail": detail,
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
            _("Retention of `{db}` runs again (job {id}): {line}.").format(db=database, id=job.id, line=line)
            + " "
            + _("The pruning guard had held it since {since}.").format(since=since)
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
    if backup_id:
        new = _("The new backup `{backup}` is stored and listed; only the clean-up failed.").format(
            backup=backup_id
        )
    else:
        new = _("The new backup is stored; only the clean-up failed.")
    plan_hint = _(
        "Then run `backupbot prune --database {db}` to see the plan (`--confirm` deletes). Retention runs "
        "again after each good scheduled backup; this channel hears when it works."
    ).format(db=database)
    if not_deleted:
        left = ngettext(
            "{n} backup the retention policy would delete is still in the bucket: {ids}.",
            "{n} backups the retention policy would delete are still in the bucket: {ids}.",
            len(not_deleted),
        ).format(n=len(not_deleted), ids=_ids(not_deleted))
        check = _(
            "Check that the bot's storage credentials may delete objects (`s3:DeleteObject` on the "
            "bucket's prefix; no bucket policy or Object Lock refusing it)."
        )
    else:
        left = _("No old backup was deleted.")
        check = _(
            "Check that the bucket answers and that the bot's storage credentials may list and delete "
            "objects (`s3:ListBucket`, `s3:DeleteObject`)."
        )
    stay = _("Old backups stay, and are billed, until retention works.")
    alert = Alert(
        title=_(
            "Retention of `{db}` failed after job {id}: old backups were not deleted (the new backup is fine)"
        ).format(db=database, id=job.id),
        severity="warning",
        database=database,
        error={
            "message": message,
            "detail": f"{new} {left} {stay}",
            "hint": f"{check} {plan_hint}",
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
            _("Retention of `{db}` works again (job {id}): {line}.").format(db=database, id=job.id, line=line)
            + " "
            + _("It had been failing since {since}.").format(since=since)
        ),
    )
