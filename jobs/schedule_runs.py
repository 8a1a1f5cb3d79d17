"""The record of scheduled runs: which slot of which schedule entry became which job.

One row per (entry, slot) in the store's SQLite file, under a UNIQUE index. That index is
the whole answer to "two bot processes never both run the same slot": both try the
INSERT, exactly one row goes in, and only the process whose INSERT went in creates the
job — in the same transaction, so a crash can't leave a claimed slot without its job.

A scheduled job carries ``params["schedule"]`` (the entry's key) and ``params["slot"]``.
The alert's Retry button re-queues a job with the same params, so a retry is recognised
as a run of the same schedule without any coupling to the button: its failure alerts,
its success is the recovery and is followed by retention like any scheduled success.
Follow-ups (alert, prune, heartbeat) are claimed per job in ``schedule_followups`` so
each happens once even with two bot processes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from jobs.status import JobStatus
from jobs.store import Job, Store, open_existing_store, utcnow

TABLE = "schedule_slots"
FOLLOWUPS = "schedule_followups"
PENDING_ALERTS = "schedule_alerts"  # alerts claimed, and whether they reached the reporter (jobs.alerts)
FAILED_STATES = (JobStatus.FAILED, JobStatus.INTERRUPTED, JobStatus.EXPIRED)


def iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def ensure_schema(store: Store) -> None:
    with store.transaction() as db:
        db[TABLE].create(
            {
                "id": int,
                "entry": str,
                "slot": str,
                "job_kind": str,
                "database": str,
                "job_id": int,
                "claimed_at": str,
                "claimed_by": str,
                "missed": int,
            },
            pk="id",
            not_null={"entry", "slot", "job_kind", "claimed_at"},
            defaults={"missed": 0},
            if_not_exists=True,
        )
        db[TABLE].create_index(["entry", "slot"], unique=True, if_not_exists=True)
        db[FOLLOWUPS].create(
            {"job_id": int, "outcome": str, "at": str}, pk="job_id", not_null={"at"}, if_not_exists=True
        )
        db[PENDING_ALERTS].create(
            {"key": str, "alert": str, "claimed_at": float, "handed_at": float},
            pk="key",
            not_null={"alert", "claimed_at"},
            if_not_exists=True,
        )


def claim(
    store: Store,
    *,
    entry: str,
    slot: datetime,
    job_kind: str,
    database: str | None,
    worker: str,
    create_job: Callable[[], Job],
    missed: int = 0,
) -> Job | None:
    """Claim (entry, slot) and create its job atomically; None if another process has it."""
    with store.transaction() as db:
        cur = db.execute(
            f"INSERT OR IGNORE INTO {TABLE} (entry, slot, job_kind, database, claimed_at, claimed_by, missed)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [entry, iso(slot), job_kind, database, utcnow(), worker, missed],
        )
        if cur.rowcount != 1:
            return None
        row_id = cur.lastrowid
        job = create_job()
        db.execute(f"UPDATE {TABLE} SET job_id = ? WHERE id = ?", [job.id, row_id])
    return job


def last_slot(store: Store, entry: str) -> datetime | None:
    rows = list(store.db.query(f"SELECT max(slot) AS slot FROM {TABLE} WHERE entry = ?", [entry]))
    return parse_iso(rows[0]["slot"]) if rows and rows[0]["slot"] else None


_SCHEDULED = "json_extract(j.params, '$.schedule') IS NOT NULL"


FOLLOWUPS_PRUNED_BEFORE = "schedule:followups:pruned-before"  # kv: see jobs.housekeeping


def finished_unhandled(store: Store, limit: int = 100) -> list[Job]:
    """Scheduled jobs (and their retries) that ended and whose follow-up has not been done.

    Jobs that ended before the mark ``jobs.housekeeping`` left are history: their follow-up
    claims were deleted after every one of them had been followed up.
    """
    terminal = [str(s) for s in JobStatus if s.terminal]
    rows = store.db.query(
        f"SELECT j.* FROM jobs j LEFT JOIN {FOLLOWUPS} f ON f.job_id = j.id WHERE f.job_id IS NULL "
        f"AND {_SCHEDULED} AND j.status IN ({','.join('?' * len(terminal))}) "
        "AND coalesce(j.finished_at, j.updated_at) >= "
        "coalesce((SELECT json_extract(value, '$') FROM kv WHERE key = ?), '') ORDER BY j.id LIMIT ?",
        [*terminal, FOLLOWUPS_PRUNED_BEFORE, limit],
    )
    return [Job.from_row(r) for r in rows]


def oldest_unhandled(db: Any) -> str | None:
    """When the earliest scheduled job still waiting for its follow-up ended (inside a transaction)."""
    terminal = [str(s) for s in JobStatus if s.terminal]
    rows = list(
        db.execute(
            f"SELECT min(coalesce(j.finished_at, j.updated_at)) FROM jobs j LEFT JOIN {FOLLOWUPS} f "
            f"ON f.job_id = j.id WHERE f.job_id IS NULL AND {_SCHEDULED} "
            f"AND j.status IN ({','.join('?' * len(terminal))})",
            terminal,
        ).fetchall()
    )
    return rows[0][0] if rows and rows[0][0] else None


def mark_handled(store: Store, job_id: int, outcome: str) -> bool:
    """True for exactly one caller, so a follow-up (an alert, a prune) happens once across processes."""
    with store.transaction() as db:
        cur = db.execute(
            f"INSERT OR IGNORE INTO {FOLLOWUPS} (job_id, outcome, at) VALUES (?, ?, ?)",
            [job_id, outcome, utcnow()],
        )
        return cur.rowcount == 1


def last_scheduled_failure(store: Store, database: str, job_kind: str = "dump") -> datetime | None:
    """When the latest failed scheduled run (or retry) of ``database`` ended, if any failed."""
    failed = [str(s) for s in FAILED_STATES]
    rows = list(
        store.db.query(
            f"SELECT j.finished_at, j.updated_at FROM jobs j WHERE j.database = ? AND j.kind = ? AND {_SCHEDULED} "
            f"AND j.status IN ({','.join('?' * len(failed))}) "
            "ORDER BY coalesce(j.finished_at, j.updated_at) DESC LIMIT 1",
            [database, job_kind, *failed],
        )
    )
    if not rows:
        return None
    return parse_iso(rows[0]["finished_at"] or rows[0]["updated_at"])


def last_scheduled_failure_if_store(cfg: Any, database: str) -> datetime | None:
    """The same, for the CLI: reads the bot's store only if this machine has one."""
    store = open_existing_store(cfg)
    if store is None:
        return None
    try:
        ensure_schema(store)
        return last_scheduled_failure(store, database)
    finally:
        store.close()
