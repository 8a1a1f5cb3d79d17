"""`/backup approve JOB` and `/backup deny JOB`: the restore buttons, typed (the console has no buttons).

Both go through ``jobs.approvals.decide`` exactly like a click, so typing can never do
more than clicking: the same leads, the same "not your own request", the same binding.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from commands.base import ArgParser, Invocation, Reply, Subcommand, parse_job_id
from core.config import Config


@dataclass(frozen=True)
class DecisionCommand:
    job_id: int
    decision: str  # approve or deny


def build(p: ArgParser) -> None:
    p.add_argument("job", type=parse_job_id)


def handle(req: DecisionCommand, inv: Invocation) -> Reply:
    from jobs.approvals import apply_decision, decide, job_binding
    from jobs.queue import ahead_of

    job = inv.store.get_job(req.job_id)
    result = decide(
        inv.store, inv.cfg, job.id, inv.user, req.decision, job_binding(job), directory=inv.directory
    )
    apply_decision(result, inv.cfg, inv.reporter, inv.wake)
    ahead = ahead_of(inv.store, result.job) if result.outcome == "approved" else []
    done = {
        "approved": f"Approved restore request {job.id}; "
        + (f"it is queued after job {ahead[-1].id}." if ahead else "it starts now."),
        "denied": f"Restore request {job.id} {'withdrawn' if inv.user == job.requested_by else 'denied'}; nothing was changed.",
    }
    return Reply(result.reply or done.get(result.outcome, f"Restore request {job.id}: {result.outcome}."))


def _spec(decision: str, summary: str) -> Subcommand:
    def request(ns: argparse.Namespace, cfg: Config) -> DecisionCommand:
        return DecisionCommand(job_id=ns.job, decision=decision)

    return Subcommand(
        name=decision,
        usage=f"{decision} JOB",
        summary=summary,
        build=build,
        request=request,
        handle=handle,
        needs_permission=False,  # the approval rules decide who may; strangers get told so
        examples=(f"{decision} 12",),
    )


SPEC = _spec("approve", "approve a restore request (leads only; not your own)")
