"""One row of the ``jobs`` table as Python sees it, and the way back to a row.

Apart from ``jobs.store`` because nearly every layer reads a ``Job`` (rendering,
commands, reporters) while only the store writes rows; the JSON columns and the
integer flag are encoded here so a caller can never put an unknown column into SQL.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from core.i18n import _
from jobs.status import JobStatus


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    database: str | None
    lane: str
    status: JobStatus
    params: dict[str, Any] = field(default_factory=dict)
    requested_by: str = ""
    channel: str = ""
    message_ts: str = ""
    created_at: str = ""
    updated_at: str = ""
    started_at: str | None = None
    finished_at: str | None = None
    attempts: int = 0
    worker: str = ""
    heartbeat_at: float | None = None
    cancel_requested: bool = False
    progress: str = ""
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Job:
        return cls(
            id=row["id"],
            kind=row["kind"],
            database=row["database"],
            lane=row["lane"],
            status=JobStatus(row["status"]),
            params=json.loads(row["params"] or "{}"),
            requested_by=row["requested_by"] or "",
            channel=row["channel"] or "",
            message_ts=row["message_ts"] or "",
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            attempts=row["attempts"] or 0,
            worker=row["worker"] or "",
            heartbeat_at=row["heartbeat_at"],
            cancel_requested=bool(row["cancel_requested"]),
            progress=row["progress"] or "",
            result=json.loads(row["result"]) if row["result"] else None,
            error=json.loads(row["error"]) if row["error"] else None,
        )

    @property
    def title(self) -> str:
        """How people refer to a job: `dump prod (job 12)`, in the configured language."""
        if self.database:
            return _("{kind} {db} (job {id})").format(kind=self.kind, db=self.database, id=self.id)
        return _("{kind} (job {id})").format(kind=self.kind, id=self.id)

    @property
    def log_name(self) -> str:
        """The same reference for log lines, which stay English whatever the locale."""
        target = f" {self.database}" if self.database else ""
        return f"{self.kind}{target} (job {self.id})"


JSON_FIELDS = ("params", "result", "error")
JOB_FIELDS = frozenset(Job.__dataclass_fields__) - {"id", "status"}


def encode_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Column values for ``fields``; an unknown name raises, so a typo never becomes SQL."""
    unknown = set(fields) - JOB_FIELDS
    if unknown:
        raise ValueError(f"unknown job fields: {sorted(unknown)}")
    out = dict(fields)
    for key in JSON_FIELDS:
        if key in out and out[key] is not None:
            out[key] = json.dumps(out[key], sort_keys=True, default=str)
    if "cancel_requested" in out:
        out["cancel_requested"] = int(bool(out["cancel_requested"]))
    return out
