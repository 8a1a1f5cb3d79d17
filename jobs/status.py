"""The life of a job, as one closed set of states.

Every surface (Slack messages, the console, ``/backup status``, the scheduler's
alerts) reads a job's state from here, so a new state is added in one place and a
typo in a state name fails at import, not in a WHERE clause at 3 a.m.
"""

from __future__ import annotations

from enum import StrEnum

from core.i18n import N_, _


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
        """The state as people read it, in the configured language; the value stays the stored key."""
        label = _LABELS[self]  # marked with N_ where the table is defined
        return _(label)

    @property
    def emoji(self) -> str:
        return _EMOJI[self]


ACTIVE = frozenset({JobStatus.QUEUED, JobStatus.AWAITING_APPROVAL, JobStatus.RUNNING})
TERMINAL = frozenset(set(JobStatus) - ACTIVE)
CANCELLABLE = ACTIVE

_LABELS = {
    JobStatus.QUEUED: N_("queued"),
    JobStatus.AWAITING_APPROVAL: N_("awaiting approval"),
    JobStatus.RUNNING: N_("running"),
    JobStatus.SUCCEEDED: N_("done"),
    JobStatus.FAILED: N_("failed"),
    JobStatus.CANCELLED: N_("cancelled"),
    JobStatus.EXPIRED: N_("expired"),
    JobStatus.INTERRUPTED: N_("interrupted"),
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
