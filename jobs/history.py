"""The audit trail as people read it: who asked for what, who approved or denied, how it ended.

The ``audit`` table has a row for every state change, click, lock and refusal; most are for
machines (a lock taken, a job claimed by a worker). ``history`` keeps the rows a person asks
about after the fact — a request, a decision, an outcome, a freeze, a break-glass restore —
newest first, each with its job and database, as ``Entry`` values the surfaces render.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from core.i18n import N_, _
from jobs.status import JobStatus
from jobs.store import Job, Store

OUTCOMES = {"succeeded", "failed", "cancelled", "expired", "interrupted"}
# Audit events that are a lead's (or the requester's) decision, and how each reads.
DECISIONS = {
    "restore_approval": N_("approved"),
    "restore_approved": N_("approved"),
    "restore_denied": N_("denied"),
    "restore_withdrawn": N_("withdrew"),
    "approve_refused": N_("was refused approving: {why}"),
    "deny_refused": N_("was refused denying: {why}"),
}
# Why a click was refused: the key stored in the audit row, and how people read it.
WHYS = {
    "not an approver": N_("not an approver"),
    "own request": N_("own request"),
    "frozen": N_("frozen"),
}
# A refusal because of a freeze, per action (the action is a key in the audit row).
REFUSED_FROZEN = {
    "restore": N_("was refused a restore of {db}: it is frozen"),
    "prune": N_("was refused a prune of {db}: it is frozen"),
    "restore drill": N_("was refused a restore drill of {db}: it is frozen"),
    "undo": N_("was refused an undo of {db}: it is frozen"),
}
REFUSED_FROZEN_OTHER = N_("was refused a {action} of {db}: it is frozen")
# Scheduled jobs whose reason only repeats the schedule ("scheduled (0 3 * * * UTC)"): not shown.
ROUTINE_SCHEDULES = ("dump:", "files_sync:", "files_verify:")
OTHER = {
    "cancel_requested",
    "frozen",
    "unfrozen",
    "refused_frozen",
    "break_glass_restore_started",
    "break_glass_restore_succeeded",
    "break_glass_restore_failed",
}


@dataclass(frozen=True)
class Entry:
    """One line of history; ``what`` is plain text (not yet escaped for Slack)."""

    at: str
    event: str
    actor: str  # a Slack user id, "scheduler", user@host (break glass); "" for outcomes
    database: str
    job_id: int | None
    what: str

    @property
    def when(self) -> str:
        return f"{self.at[:16].replace('T', ' ')} UTC"


def _routine(job: Job, reason: str) -> bool:
    """Whether the reason only says the job was scheduled (older rows: the English prefix)."""
    return str(job.params.get("schedule", "")).startswith(ROUTINE_SCHEDULES) or reason.startswith("scheduled")


def _created(job: Job) -> str:
    reason = str(job.params.get("reason") or "").strip()
    if reason and _routine(job, reason):
        reason = ""
    if job.kind == "restore":
        backup = job.params.get("backup_id", "?")
        if reason:
            return _('asked to restore {backup} into {db} ("{reason}")').format(
                backup=backup, db=job.database, reason=reason
            )
        return _("asked to restore {backup} into {db}").format(backup=backup, db=job.database)
    if job.database and reason:
        return _('asked for a {kind} of {db} ("{reason}")').format(
            kind=job.kind, db=job.database, reason=reason
        )
    if job.database:
        return _("asked for a {kind} of {db}").format(kind=job.kind, db=job.database)
    if reason:
        return _('asked for a {kind} ("{reason}")').format(kind=job.kind, reason=reason)
    return _("asked for a {kind}").format(kind=job.kind)


def _job_what(job: Job | None, row: dict[str, Any]) -> str:
    detail = row["detail"]
    if job is None:
        return row["event"]
    if row["event"] == "created":
        return _created(job)
    if row["event"] in DECISIONS:
        if row["event"] == "restore_approval":
            return _("approved ({have} of {need})").format(have=detail.get("have"), need=detail.get("need"))
        if "refused" in row["event"]:
            why = str(detail.get("why", ""))
            why_text = WHYS.get(why)
            refused = DECISIONS[row["event"]]
            return _(refused).format(why=_(why_text) if why_text else why)
        decided = DECISIONS[row["event"]]
        return _(decided)
    if row["event"] == "cancel_requested":
        return _("asked to cancel it")
    if row["to_status"] in OUTCOMES:
        status = row["to_status"]
        if status == "succeeded":
            summary = (job.result or {}).get("summary", "") if job.status == "succeeded" else ""
            return _("succeeded: {summary}").format(summary=summary) if summary else _("succeeded")
        message = (job.error or {}).get("message", "") if job.status == status else ""
        label = JobStatus(status).label
        return _("{status}: {message}").format(status=label, message=message) if message else label
    return row["event"]


def _other_what(row: dict[str, Any]) -> str:
    d = row["detail"]
    event = row["event"]
    if event == "frozen":
        return _('froze {db} ("{reason}")').format(db=d.get("database"), reason=d.get("reason", ""))
    if event == "unfrozen":
        return _('unfroze {db} (frozen by {by} for "{reason}")').format(
            db=d.get("database"), by=d.get("by"), reason=d.get("reason", "")
        )
    if event == "refused_frozen":
        action = str(d.get("action"))
        refused = REFUSED_FROZEN.get(action)
        if refused:
            return _(refused).format(db=d.get("database"))
        return _(REFUSED_FROZEN_OTHER).format(action=action, db=d.get("database"))
    if event.startswith("break_glass_restore_"):
        state = event.rsplit("_", 1)[1]
        values = {"backup": d.get("backup_id", "?"), "db": d.get("target", "?"), "reason": d.get("reason")}
        if state == "started" and d.get("reason"):
            return _('break-glass restore of {backup} into {db}: started ("{reason}")').format(**values)
        if state == "started":
            return _("break-glass restore of {backup} into {db}: started").format(**values)
        if state == "succeeded":
            return _("break-glass restore of {backup} into {db}: succeeded").format(**values)
        if state == "failed":
            return _("break-glass restore of {backup} into {db}: failed").format(**values)
    return event


def _database_of(job: Job | None, detail: dict[str, Any]) -> str:
    if job is not None:
        return job.database or ""
    return str(detail.get("database") or detail.get("target") or "")


def _wanted(row: dict[str, Any]) -> bool:
    return (
        row["event"] == "created"
        or row["event"] in DECISIONS
        or row["event"] in OTHER
        or (row["to_status"] in OUTCOMES and row["from_status"] != row["to_status"])
    )


def history(store: Store, database: str | None = None, limit: int = 20) -> list[Entry]:
    """The newest ``limit`` entries, newest first, for one database or all."""
    entries: list[Entry] = []
    jobs: dict[int, Job | None] = {}
    before = None
    while len(entries) < limit:
        sql, args = "SELECT * FROM audit", []
        if before is not None:
            sql, args = sql + " WHERE id < ?", [before]
        batch = list(store.db.query(sql + " ORDER BY id DESC LIMIT 500", args))
        if not batch:
            break
        before = batch[-1]["id"]
        for row in batch:
            if not _wanted(row):
                continue
            row["detail"] = json.loads(row["detail"] or "{}")
            job = None
            if row["job_id"] is not None:
                if row["job_id"] not in jobs:
                    jobs[row["job_id"]] = store.find_job(row["job_id"])
                job = jobs[row["job_id"]]
            db = _database_of(job, row["detail"])
            if database is not None and db != database:
                continue
            what = _job_what(job, row) if job is not None and row["event"] not in OTHER else _other_what(row)
            outcome = row["to_status"] in OUTCOMES and row["event"] not in DECISIONS
            actor = "" if outcome else (row["actor"] or "")
            entries.append(Entry(row["at"], row["event"], actor, db, row["job_id"], what))
            if len(entries) >= limit:
                break
    return entries
