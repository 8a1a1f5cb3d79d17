"""How jobs talk to people, without knowing whether the people are in Slack or at a terminal.

A job kind reports through a ``Reporter``: the runner calls ``queued``/``started``/
``finished``/``failed`` around it, the kind itself calls ``progress`` and ``step`` (best
through ``JobContext``), and the scheduler calls ``alert``. A restore request is told
with ``awaiting_approval`` until enough leads approve it; only then is it ``queued``.
``bot/`` provides the Slack and console implementations; job kinds never import ``bot/``.

A reporter must never make a job fail: Slack can be down for an hour while a backup
runs. ``guarded`` wraps any reporter so an exception in it is logged and swallowed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from core.errors import BackupbotError
from jobs.store import Job

# Jobs typed at the local console carry this in place of a Slack channel id.
CONSOLE_CHANNEL = "console"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProgressUpdate:
    """A line like "412.0 MB read · 98.3 MB stored · 12.1 MB/s · 0:34"."""

    text: str
    elapsed: float = 0.0
    fraction: float | None = None


@dataclass(frozen=True)
class StepResult:
    """One line in the job's thread: a runbook step and how it went."""

    name: str
    status: Literal["running", "ok", "failed", "skipped"]
    duration: float | None = None
    detail: str = ""


@dataclass(frozen=True)
class Outcome:
    """What a job kind returns on success.

    ``summary`` is the sentence people read ("Backup prod-20260101T030000Z-manual stored"),
    ``fields`` the facts beside it, ``data`` what scripts and later jobs read back
    from ``jobs.result``.
    """

    summary: str
    fields: tuple[tuple[str, str], ...] = ()
    data: dict[str, Any] = field(default_factory=dict)

    def as_result(self) -> dict[str, Any]:
        return {"summary": self.summary, "fields": [list(f) for f in self.fields], **self.data}


@dataclass(frozen=True)
class Alert:
    """Something the on-call people must see, tied to a job or not (a backup that is too old)."""

    title: str
    severity: Literal["failure", "warning", "recovered", "info"] = "failure"
    database: str | None = None
    error: dict[str, Any] | None = None  # BackupbotError.as_dict()
    job_id: int | None = None
    retry: bool = False  # offer a Retry button that re-runs job_id
    mention: str = ""  # a user group id (S…) or user id (U…) to mention
    channel: str = ""  # default: the configured alert channel


class Reporter(Protocol):
    def awaiting_approval(self, job: Job) -> None:
        """A restore request was posted, or a lead approved and more must: nothing runs yet.

        Kept apart from ``queued`` so no surface can tell people a restore is on its way
        while it still waits for a lead; ``job.params`` holds the decisions so far.
        """
        ...

    def queued(self, job: Job) -> None:
        """The job is in line for the runner: new, or a restore request that was just approved."""
        ...

    def started(self, job: Job) -> None: ...

    def progress(self, job: Job, update: ProgressUpdate) -> None: ...

    def step(self, job: Job, step: StepResult) -> None: ...

    def finished(self, job: Job, outcome: Outcome) -> None: ...

    def failed(self, job: Job, error: BackupbotError) -> None:
        """The job ended without a result: ``job.status`` says failed, cancelled, interrupted or expired."""
        ...

    def alert(self, alert: Alert) -> None: ...


class NullReporter:
    """Tells nobody; for jobs run where no one is listening (tests, one-off scripts)."""

    def awaiting_approval(self, job: Job) -> None:
        pass

    def queued(self, job: Job) -> None:
        pass

    def started(self, job: Job) -> None:
        pass

    def progress(self, job: Job, update: ProgressUpdate) -> None:
        pass

    def step(self, job: Job, step: StepResult) -> None:
        pass

    def finished(self, job: Job, outcome: Outcome) -> None:
        pass

    def failed(self, job: Job, error: BackupbotError) -> None:
        pass

    def alert(self, alert: Alert) -> None:
        pass


class LogReporter:
    """Writes every event to the log; what a runner without Slack says."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.log = logger or logging.getLogger("backupbot.jobs")

    def awaiting_approval(self, job: Job) -> None:
        approved = len(job.params.get("approved_by", []) or [])
        required = job.params.get("approvals_required", 1)
        self.log.info("%s awaiting approval (%s of %s)", job.log_name, approved, required)

    def queued(self, job: Job) -> None:
        self.log.info("%s queued by %s", job.log_name, job.requested_by or "system")

    def started(self, job: Job) -> None:
        self.log.info("%s started", job.log_name)

    def progress(self, job: Job, update: ProgressUpdate) -> None:
        self.log.info("%s: %s", job.log_name, update.text)

    def step(self, job: Job, step: StepResult) -> None:
        took = f" ({step.duration:.1f} s)" if step.duration is not None else ""
        self.log.info("%s: %s %s%s %s", job.log_name, step.name, step.status, took, step.detail)

    def finished(self, job: Job, outcome: Outcome) -> None:
        self.log.info("%s done: %s", job.log_name, outcome.summary)

    def failed(self, job: Job, error: BackupbotError) -> None:
        self.log.warning("%s %s: %s", job.log_name, job.status, error.render().replace("\n", " | "))

    def alert(self, alert: Alert) -> None:
        self.log.warning("ALERT %s: %s", alert.severity, alert.title)


class FanOut:
    """Sends every event to several reporters (e.g. Slack and the log)."""

    def __init__(self, *reporters: Reporter) -> None:
        self.reporters = [guarded(r) for r in reporters]

    def __getattr__(self, name: str) -> Any:
        def call(*args: Any) -> None:
            for r in self.reporters:
                getattr(r, name)(*args)

        return call


class _Guarded:
    def __init__(self, inner: Reporter) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)

        def call(*args: Any) -> None:
            try:
                method(*args)
            except Exception:
                log.exception("reporter %s.%s failed; the job goes on", type(self.inner).__name__, name)

        return call


def guarded(reporter: Reporter) -> Reporter:
    """The reporter with every call made unable to raise."""
    if isinstance(reporter, _Guarded):
        return reporter
    return _Guarded(reporter)  # type: ignore[return-value]
