"""The record of scheduled runs: which slot of which schedule entry became which job.

One row per (entry, slot, attempt) in the store's SQLite file, under a UNIQUE index.
That index is the whole answer to "two bot processes never both run the same slot":
both try the INSERT, exactly one row goes in, and only the process whose INSERT went in
creates the job — in the same transaction, so a crash can't leave a claimed slot
without its job. Retries (the alert's Retry button) are further attempts of the same
slot, so their success counts as the schedule's recovery.

The same rows answer the pruning guard's question (did the latest scheduled run of
this database fail?) and drive the scheduler's follow-ups (alert on failure, prune and
heartbeat after success), each handled exactly once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jobs.status import JobStatus
from jobs.store import DB_FILE, Job, Store, utcnow

TABLE = "schedule_slots"
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
                "attempt": int,
                "job_kind": str,
                "database": str,
                "job_id": int,
                "claimed_at": str,
                "claimed_by": str,
                "missed": int,
                "handled": int,
                "outcome": str,
            },
            pk="id",
            not_null={"entry", "slot", "attempt", "job_kind", "claimed_at"},
            defaults={"attempt": 0, "handled": 0, "missed": 0},
            if_not_exists=True,
        )
        db[TABLE].create_index(["entry", "slot", "attempt"], unique=True, if_not_exists=True)
        db[TABLE].create_index(["database", "id"], if_not_exists=True)


@dataclass(frozen=True)
class SlotRun:
    id: int
    entry: str
    slot: datetime
    attempt: int
    job_kind: str
    database: str | None
    job_id: int | None
    missed: int
    handled: bool
    outcome: str

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> SlotRun:
        return cls(
            id=row["id"],
            entry=row["entry"],
            slot=parse_iso(row["slot"]),
            attempt=row["attempt"],
            job_kind=row["job_kind"],
            database=row["database"],
            job_id=row["job_id"],
            missed=row["missed"] or 0,
            handled=bool(row["handled"]),
            outcome=row["outcome"] or "",
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
    attempt: int = 0,
    missed: int = 0,
) -> Job | None:
    """Claim (entry, slot, attempt) and create its job atomically; None if another process has it."""
    with store.transaction() as db:
        cur = db.execute(
            f"INSERT OR IGNORE INTO {TABLE} (entry, slot, attempt, job_kind, database, claimed_at, claimed_by,"
            " missed, handled) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)",
            [entry, iso(slot), attempt, job_kind, database, utcnow(), worker, missed],
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


def run_for_job(store: Store, job_id: int) -> SlotRun | None:
    rows = list(store.db.query(f"SELECT * FROM {TABLE} WHERE job_id = ?", [job_id]))
    return SlotRun.from_row(rows[0]) if rows else None


def next_attempt(store: Store, run: SlotRun) -> int:
    rows = list(
        store.db.query(
            f"SELECT max(attempt) AS n FROM {TABLE} WHERE entry = ? AND slot = ?", [run.entry, iso(run.slot)]
        )
    )
    return int(rows[0]["n"] or 0) + 1


def finished_unhandled(store: Store) -> list[tuple[SlotRun, Job]]:
    """Runs whose job reached a terminal state and whose follow-up has not been done yet."""
    terminal = [str(s) for s in JobStatus if s.terminal]
    rows = store.db.query(
        f"SELECT s.* FROM {TABLE} s JOIN jobs j ON j.id = s.job_id WHERE s.handled = 0 "
        f"AND j.status IN ({','.join('?' * len(terminal))}) ORDER BY s.id",
        terminal,
    )
    out = []
    for row in rows:
        run = SlotRun.from_row(row)
        job = store.find_job(int(row["job_id"]))
        if job is not None:
            out.append((run, job))
    return out


def mark_handled(store: Store, run_id: int, outcome: str) -> bool:
    """True for exactly one caller, so a follow-up (an alert, a prune) happens once across processes."""
    with store.transaction() as db:
        cur = db.execute(
            f"UPDATE {TABLE} SET handled = 1, outcome = ? WHERE id = ? AND handled = 0", [outcome, run_id]
        )
        return cur.rowcount == 1


def last_scheduled_failure(store: Store, database: str, job_kind: str = "dump") -> datetime | None:
    """When the latest failed scheduled run (or retry) of ``database`` ended, if any failed."""
    failed = [str(s) for s in FAILED_STATES]
    rows = list(
        store.db.query(
            f"SELECT j.finished_at, j.updated_at FROM {TABLE} s JOIN jobs j ON j.id = s.job_id "
            f"WHERE s.database = ? AND s.job_kind = ? AND j.status IN ({','.join('?' * len(failed))}) "
            "ORDER BY coalesce(j.finished_at, j.updated_at) DESC LIMIT 1",
            [database, job_kind, *failed],
        )
    )
    if not rows:
        return None
    return parse_iso(rows[0]["finished_at"] or rows[0]["updated_at"])


def last_scheduled_failure_if_store(cfg: Any, database: str) -> datetime | None:
    """The same, for the CLI: reads the bot's store only if this machine has one."""
    path = Path(cfg.state_dir) / DB_FILE
    if not path.exists():
        return None
    store = Store(path)
    try:
        ensure_schema(store)
        return last_scheduled_failure(store, database)
    finally:
        store.close()
