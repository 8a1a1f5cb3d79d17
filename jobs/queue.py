"""Putting work on the queue: the one call the Slack handlers, the console and the scheduler make.

Enqueueing only writes a row (and tells the reporter, which posts the job's message in
the background), so a slash command can be acknowledged in milliseconds; the runner
picks the row up.
"""

from __future__ import annotations

from typing import Any

from core.errors import UsageError
from core.i18n import _
from jobs import kinds
from jobs.events import Reporter, guarded
from jobs.status import JobStatus
from jobs.store import Job, Store


def enqueue(
    store: Store,
    kind: str,
    database: str | None,
    params: dict[str, Any] | None = None,
    *,
    requested_by: str = "",
    channel: str = "",
    reporter: Reporter | None = None,
    lane: str | None = None,
    status: JobStatus = JobStatus.QUEUED,
) -> Job:
    """Record a job for the runner; ``status=AWAITING_APPROVAL`` parks it until approved."""
    if kind not in kinds.names():
        raise UsageError(
            _("unknown job kind '{kind}'").format(kind=kind),
            detail=_("Known kinds: {kinds}.").format(kinds=", ".join(kinds.names())),
            hint=_("This is a bug in the caller; report it with the command you ran."),
        )
    job = store.create_job(
        kind,
        database,
        params,
        requested_by=requested_by,
        channel=channel,
        lane=lane,
        status=status,
        wake=False,
    )
    if reporter is not None and status == JobStatus.AWAITING_APPROVAL:
        guarded(reporter).awaiting_approval(job)
    elif reporter is not None:
        guarded(reporter).queued(job)
    if status == JobStatus.QUEUED:
        store.job_queued.set()
    return job


def ahead_of(store: Store, job: Job) -> list[Job]:
    """Jobs that must finish before this one can start (same lane, earlier, not finished)."""
    rows = store.db.query(
        "SELECT * FROM jobs WHERE lane = ? AND id < ? AND status IN ('queued', 'running') ORDER BY id",
        [job.lane, job.id],
    )
    return [Job.from_row(r) for r in rows]
