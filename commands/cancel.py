"""`/backup cancel JOB`: stop a queued or running job."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from commands.base import ArgParser, Invocation, Reply, Subcommand, parse_job_id
from core.config import Config
from jobs.status import JobStatus


@dataclass(frozen=True)
class CancelRequest:
    job_id: int


def build(p: ArgParser) -> None:
    p.add_argument("job", metavar="JOB", type=parse_job_id)


def request(ns: argparse.Namespace, cfg: Config) -> CancelRequest:
    return CancelRequest(job_id=ns.job)


def handle(req: CancelRequest, inv: Invocation) -> Reply:
    before = inv.store.get_job(req.job_id)
    job = inv.store.request_cancel(req.job_id, inv.user)
    inv.wake()
    if job.status == JobStatus.CANCELLED and before.status != JobStatus.CANCELLED:
        if inv.reporter is not None:
            from jobs.context import JobCancelled
            from jobs.events import guarded

            guarded(inv.reporter).failed(
                job,
                JobCancelled(
                    f"{job.title} was cancelled", detail=f"Cancelled by <@{inv.user}> before it started."
                ),
            )
        return Reply(f"Cancelled {job.title} before it started.")
    if job.status == JobStatus.RUNNING:
        return Reply(f"Stopping {job.title}; its message will say when it has stopped.")
    return Reply(f"{job.title} already ended: {job.status.label}. Nothing to cancel.")


SPEC = Subcommand(
    name="cancel",
    usage="cancel JOB",
    summary="stop a queued or running job",
    build=build,
    request=request,
    handle=handle,
    examples=("cancel 12",),
)
