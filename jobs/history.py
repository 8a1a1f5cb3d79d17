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

from jobs.store import Job, Store

OUTCOMES = {"succeeded", "failed", "cancelled", "expired", "interrupted"}
DECISIONS = {
    "restore_approval": "approved",
    "restore_approved": "approved",
    "restore_denied": "denied",
    "restore_withdrawn": "withdrew",
    "approve_refused": "was refused approving",
    "deny_refused": "was refused denying",
}
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


def _job_what(job: Job | None, row: dict[str, Any]) -> str:
    detail = row["detail"]
    if job is None:
        return row["event"]
    if row["event"] == "created":
        if job.kind == "restore":
            what = f"asked to restore {job.params.get('backup_id', '?')} into {job.database}"
        else:
            what = f"asked for a {job.kind} of {job.database}" if job.database else f"asked for a {job.kind}"
        reason = str(job.params.get("reason") or "").strip()
        return what + (f' ("{reason}")' if reason and not reason.startswith("scheduled") else "")
    if row["event"] in DECISIONS:
        verb = DECISIONS[row["event"]]
        if row["event"] == "restore_approval":
            return f"approved ({detail.get('have')} of {detail.get('need')})"
        if "refused" in row["event"]:
            return f"{verb}: {detail.get('why', '')}"
        return verb
    if row["event"] == "cancel_requested":
        return "asked to cancel it"
    if row["to_status"] in OUTCOMES:
        status = row["to_status"]
        if status == "succeeded":
            summary = (job.result or {}).get("summary", "") if job.status == "succeeded" else ""
            return f"succeeded: {summary}" if summary else "succeeded"
        message = (job.error or {}).get("message", "") if job.status == status else ""
        return f"{status}: {message}" if message else status
    return row["event"]


def _other_what(row: dict[str, Any]) -> str:
    d = row["detail"]
    event = row["event"]
    if event == "frozen":
        return f'froze {d.get("database")} ("{d.get("reason", "")}")'
    if event == "unfrozen":
        return f'unfroze {d.get("database")} (frozen by {d.get("by")} for "{d.get("reason", "")}")'
    if event == "refused_frozen":
        return f"was refused a {d.get('action')} of {d.get('database')}: it is frozen"
    if event.startswith("break_glass_restore_"):
        state = event.rsplit("_", 1)[1]
        target = d.get("target", "?")
        return f"break-glass restore of {d.get('backup_id', '?')} into {target}: {state}" + (
            f' ("{d["reason"]}")' if state == "started" and d.get("reason") else ""
        )
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
