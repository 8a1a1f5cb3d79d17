"""The tables every store file has: jobs, audit, approvals, locks and kv.

Created with ``if_not_exists`` on every open, so a new state directory and one written
by an older version both work without a migration step. Modules that keep their own
tables in the same file (restores, the scheduler, the Slack outbox) create them
themselves; this is the part ``Store`` depends on.
"""

from __future__ import annotations

import sqlite_utils


def create_schema(db: sqlite_utils.Database) -> None:
    """Create the store's own tables and indexes; call inside a write transaction."""
    db["jobs"].create(
        {
            "id": int,
            "kind": str,
            "database": str,
            "lane": str,
            "status": str,
            "params": str,
            "requested_by": str,
            "channel": str,
            "message_ts": str,
            "created_at": str,
            "updated_at": str,
            "started_at": str,
            "finished_at": str,
            "attempts": int,
            "worker": str,
            "heartbeat_at": float,
            "cancel_requested": int,
            "progress": str,
            "result": str,
            "error": str,
        },
        pk="id",
        not_null={"kind", "lane", "status", "created_at", "updated_at"},
        defaults={"attempts": 0, "cancel_requested": 0, "params": "{}"},
        if_not_exists=True,
    )
    db["jobs"].create_index(["status", "lane", "id"], if_not_exists=True)
    db["jobs"].create_index(["database", "id"], if_not_exists=True)
    db["audit"].create(
        {
            "id": int,
            "at": str,
            "job_id": int,
            "event": str,
            "actor": str,
            "from_status": str,
            "to_status": str,
            "detail": str,
        },
        pk="id",
        not_null={"at", "event"},
        if_not_exists=True,
    )
    db["audit"].create_index(["job_id", "id"], if_not_exists=True)
    db["approvals"].create(
        {
            "id": int,
            "job_id": int,
            "user": str,
            "decision": str,
            "binding": str,
            "at": str,
            "detail": str,
        },
        pk="id",
        not_null={"job_id", "user", "decision", "at"},
        if_not_exists=True,
    )
    db["approvals"].create_index(["job_id", "user"], unique=True, if_not_exists=True)
    db["locks"].create(
        {"name": str, "holder": str, "job_id": int, "acquired_at": str, "expires_at": float},
        pk="name",
        not_null={"holder", "acquired_at"},
        if_not_exists=True,
    )
    db["kv"].create({"key": str, "value": str, "updated_at": str}, pk="key", if_not_exists=True)
