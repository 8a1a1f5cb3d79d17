"""The audit trail: one row per state change, click, lock or refusal, in the store's file.

Written inside the caller's transaction (``write_audit`` takes the open database), so a
state change and its audit row commit or roll back together; the jobs table, the locks
and the approvals all write through this one function.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlite_utils


def utcnow() -> str:
    """Timestamps are ISO 8601 UTC text: sortable, readable in `sqlite3`, unambiguous."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def write_audit(
    db: sqlite_utils.Database,
    job_id: int | None,
    event: str,
    actor: str,
    from_status: str | None,
    to_status: str | None,
    detail: dict[str, Any],
) -> None:
    """Add an audit row through ``db``; the caller owns the transaction."""
    db["audit"].insert(
        {
            "at": utcnow(),
            "job_id": job_id,
            "event": event,
            "actor": actor,
            "from_status": from_status,
            "to_status": to_status,
            "detail": json.dumps(detail, sort_keys=True, default=str),
        }
    )


def read_audit(db: sqlite_utils.Database, job_id: int | None = None) -> list[dict[str, Any]]:
    """Audit rows oldest first (all, or one job's), with ``detail`` decoded."""
    sql, args = "SELECT * FROM audit", []
    if job_id is not None:
        sql, args = sql + " WHERE job_id = ?", [job_id]
    rows = list(db.query(sql + " ORDER BY id", args))
    for row in rows:
        row["detail"] = json.loads(row["detail"] or "{}")
    return rows
