"""`/backup cancel JOB`: stop a queued or running job."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from commands.base import ArgParser, Invocation, Reply, Subcommand, parse_job_id
from core.config import Config
from core.i18n import N_, _
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
                    _("{job} was cancelled").format(job=job.title),
                    detail=_("Cancelled by <@{user}> before it started.").format(user=inv.user),
                ),
            )
        return Reply(_("Cancelled {job} before it started.").format(job=job.title))
    if job.status == JobStatus.RUNNING:
        return Reply(_("Stopping {job}; its message will say when it has stopped.").format(job=job.title))
    return Reply(
        _("{job} already ended: {status}. Nothing to cancel.").format(job=job.title, status=job.status.label)
    )


SPEC = Subcommand(
    name="cancel",
    usage="cancel JOB",
    summary=N_("stop a queued or running job"),
    build=build,
    request=request,
    handle=handle,
    examples=("cancel 12",),
)
