"""What a running job kind gets: its job row, the config, a reporter, and a way to be stopped.

Job kinds are plain functions ``run(ctx) -> Outcome``; everything they need from the
runner comes through here, so a kind is testable with a store in a temp folder and a
``NullReporter``, and never has to know about threads, Slack or SQLite details.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.errors import BackupbotError
from core.i18n import _
from core.redact import redact
from jobs.events import ProgressUpdate, Reporter, StepResult
from jobs.store import Job, Store

# How often progress text is written to the store; the reporter throttles on its own.
_STORE_PROGRESS_EVERY = 1.0


class JobCancelled(BackupbotError):
    """Someone cancelled the job while it ran; what it had written is cleaned up."""


@dataclass
class JobContext:
    cfg: Any
    store: Store
    job: Job
    reporter: Reporter
    cancel: threading.Event = field(default_factory=threading.Event)
    clock: Callable[[], datetime] | None = None  # when set, what "now" is for the job (simulated days)
    _last_store_write: float = 0.0

    @property
    def database(self) -> str:
        if not self.job.database:
            raise BackupbotError(
                _("{job} names no database").format(job=self.job.title),
                detail=_("Job kind '{kind}' needs a database and this job was created without one.").format(
                    kind=self.job.kind
                ),
                hint=_("Queue it again naming the database."),
            )
        return self.job.database

    def check_cancelled(self) -> None:
        """Raise ``JobCancelled`` if a cancel was asked for; kinds call it between steps."""
        if self.cancel.is_set():
            raise JobCancelled(
                _("{job} was cancelled").format(job=self.job.title),
                detail=_("Cancelled while running on database '{db}'.").format(db=self.job.database)
                if self.job.database
                else None,
                hint=_("Nothing was recorded for it; queue it again when ready."),
            )

    def progress(self, text: str, elapsed: float = 0.0, fraction: float | None = None) -> None:
        update = ProgressUpdate(text=redact(text), elapsed=elapsed, fraction=fraction)
        now = time.monotonic()
        if now - self._last_store_write >= _STORE_PROGRESS_EVERY:
            self._last_store_write = now
            self.store.update_job(self.job.id, progress=update.text)
        self.reporter.progress(self.job, update)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Time a step and report it as a thread line: running, then ok or failed with its duration."""
        self.reporter.step(self.job, StepResult(name=name, status="running"))
        start = time.monotonic()
        try:
            yield
        except BaseException as exc:
            detail = exc.message if isinstance(exc, BackupbotError) else type(exc).__name__
            self.reporter.step(
                self.job,
                StepResult(
                    name=name, status="failed", duration=time.monotonic() - start, detail=redact(detail)
                ),
            )
            raise
        self.reporter.step(self.job, StepResult(name=name, status="ok", duration=time.monotonic() - start))
