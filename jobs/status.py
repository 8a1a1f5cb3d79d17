"""The life of a job, as one closed set of states.

Every surface (Slack messages, the console, ``/backup status``, the scheduler's
alerts) reads a job's state from here, so a new state is added in one place and a
typo in a state name fails at import, not in a WHERE clause at 3 a.m.
"""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    QUEUED = "queued"
    AWAITING_APPROVAL = "awaiting_approval"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    INTERRUPTED = "interrupted"

    @property
    def terminal(self) -> bool:
        """A terminal job never changes state again; the runner and the buttons ignore it."""
        return self in TERMINAL

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def emoji(self) -> str:
        return _EMOJI[self]


ACTIVE = frozenset({JobStatus.QUEUED, JobStatus.AWAITING_APPROVAL, JobStatus.RUNNING})
TERMINAL = frozenset(set(JobStatus) - ACTIVE)
CANCELLABLE = ACTIVE

_LABELS = {
    JobStatus.QUEUED: "queued",
    JobStatus.AWAITING_APPROVAL: "awaiting approval",
    JobStatus.RUNNING: "running",
    JobStatus.SUCCEEDED: "done",
    JobStatus.FAILED: "failed",
    JobStatus.CANCELLED: "cancelled",
    JobStatus.EXPIRED: "expired",
    JobStatus.INTERRUPTED: "interrupted",
}

_EMOJI = {
    JobStatus.QUEUED: ":hourglass_flowing_sand:",
    JobStatus.AWAITING_APPROVAL: ":raised_hand:",
    JobStatus.RUNNING: ":arrows_counterclockwise:",
    JobStatus.SUCCEEDED: ":white_check_mark:",
    JobStatus.FAILED: ":x:",
    JobStatus.CANCELLED: ":no_entry_sign:",
    JobStatus.EXPIRED: ":alarm_clock:",
    JobStatus.INTERRUPTED: ":warning:",
}
