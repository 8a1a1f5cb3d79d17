"""Log lines: one per event, text or JSON (``LOG_FORMAT=json``), secrets masked, job and database attached.

A log aggregator splits on newlines, so a traceback or a pg_dump message spread over
several lines would become several unrelated events; here every record is one line (the
traceback folded into it, or a field of the JSON object). The job a line belongs to comes
from ``job_context``, which the runner sets around each job (it runs in its own thread, so
the context is that thread's), so a line from deep in the engine still says which job and
which database it was about. ``event`` is what the line is: the ``extra={"event": …}`` the
caller gave, or else the message's template, which stays the same across occurrences.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import IO, Any

from core.redact import redact

_JOB: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("backupbot_job", default=None)


@contextmanager
def job_context(job_id: int, database: str | None) -> Iterator[None]:
    """Log lines written inside carry this job's id and database."""
    token = _JOB.set({"job_id": job_id, "database": database})
    try:
        yield
    finally:
        _JOB.reset(token)


def event(name: str, **fields: Any) -> dict[str, Any]:
    """``log.info("...", extra=event("dump_stored", database="prod"))``."""
    return {"event": name, **fields}


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    current = _JOB.get() or {}
    job_id = getattr(record, "job_id", None) or current.get("job_id")
    database = getattr(record, "database", None) or current.get("database")
    name = getattr(record, "event", None) or str(record.msg)[:120]
    return {"job_id": job_id, "database": database, "event": name}


def _message(record: logging.LogRecord, formatter: logging.Formatter) -> str:
    text = record.getMessage()
    if record.exc_info:
        text += "\n" + formatter.formatException(record.exc_info)
    if record.stack_info:
        text += "\n" + record.stack_info
    return redact(text)


class TextFormatter(logging.Formatter):
    """``2026-12-05T04:50:01.123Z INFO jobs.runner [job 12 prod] message`` — newlines folded to ' ⏎ '."""

    def format(self, record: logging.LogRecord) -> str:
        f = _fields(record)
        where = ""
        if f["job_id"] is not None or f["database"]:
            parts = [f"job {f['job_id']}" if f["job_id"] is not None else "", f["database"] or ""]
            where = "[" + " ".join(p for p in parts if p) + "] "
        at = (
            datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z")
        )
        line = f"{at} {record.levelname} {record.name}: {where}{_message(record, self)}"
        return line.replace("\r", "").replace("\n", " ⏎ ")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: at, level, logger, event, job_id, database, message (and exc)."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "at": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            **_fields(record),
            "message": redact(record.getMessage()),
        }
        if record.exc_info:
            out["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(out, default=str, ensure_ascii=False)


def configure(level: str | None = None, stream: IO[str] | None = None, fmt: str | None = None) -> None:
    """Replace the root handlers with one line-per-event handler; ``LOG_FORMAT`` = ``text`` or ``json``."""
    fmt = (fmt or os.environ.get("LOG_FORMAT") or "text").lower()
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel((level or os.environ.get("LOG_LEVEL") or "INFO").upper())
