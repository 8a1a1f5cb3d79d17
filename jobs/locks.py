"""Named locks and small key/value state, as part of the job store.

Locks guard what must never run twice at once across processes (a restore target);
``kv_claim`` gives exactly one caller a key (one scheduled slot, one alert per
episode). Both live in the same SQLite file as the jobs, under the same
``BEGIN IMMEDIATE`` transactions, so they are as atomic as a job's state change.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from jobs.audit import utcnow, write_audit

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    import sqlite_utils

__all__ = ["LocksAndState", "utcnow"]


class LocksAndState:
    """Mixed into ``Store``; uses its ``transaction`` and ``db``."""

    if TYPE_CHECKING:
        db: sqlite_utils.Database

        def transaction(self) -> AbstractContextManager[sqlite_utils.Database]: ...

    def acquire_lock(
        self, name: str, holder: str, *, job_id: int | None = None, ttl_seconds: float | None = None
    ) -> bool:
        """Take a named lock unless someone else holds an unexpired one; re-entrant per holder."""
        now = time.time()
        with self.transaction() as db:
            rows = list(db.query("SELECT * FROM locks WHERE name = ?", [name]))
            if rows:
                row = rows[0]
                expired = row["expires_at"] is not None and row["expires_at"] < now
                if row["holder"] != holder and not expired:
                    return False
            db["locks"].upsert(
                {
                    "name": name,
                    "holder": holder,
                    "job_id": job_id,
                    "acquired_at": utcnow(),
                    "expires_at": now + ttl_seconds if ttl_seconds else None,
                },
                pk="name",
            )
            write_audit(db, job_id, "lock_acquired", holder, None, None, {"lock": name})
        return True

    def release_lock(self, name: str, holder: str) -> bool:
        with self.transaction() as db:
            cur = db.execute("DELETE FROM locks WHERE name = ? AND holder = ?", [name, holder])
            if cur.rowcount:
                write_audit(db, None, "lock_released", holder, None, None, {"lock": name})
            return cur.rowcount == 1

    def lock_holder(self, name: str) -> dict[str, Any] | None:
        rows = list(self.db.query("SELECT * FROM locks WHERE name = ?", [name]))
        if not rows or (rows[0]["expires_at"] is not None and rows[0]["expires_at"] < time.time()):
            return None
        return rows[0]

    def kv_get(self, key: str, default: Any = None) -> Any:
        rows = list(self.db.query("SELECT value FROM kv WHERE key = ?", [key]))
        return json.loads(rows[0]["value"]) if rows else default

    def kv_set(self, key: str, value: Any) -> None:
        with self.transaction() as db:
            db["kv"].upsert(
                {"key": key, "value": json.dumps(value, default=str), "updated_at": utcnow()}, pk="key"
            )

    def kv_claim(self, key: str, value: Any = True) -> bool:
        """Set ``key`` only if it is not set yet; True for exactly one caller (e.g. one scheduled slot)."""
        with self.transaction() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO kv (key, value, updated_at) VALUES (?, ?, ?)",
                [key, json.dumps(value, default=str), utcnow()],
            )
            return cur.rowcount == 1
