"""`/backup approve JOB` and `/backup deny JOB`: the restore buttons, typed (the console has no buttons).

Both go through ``jobs.approvals.decide`` exactly like a click, so typing can never do
more than clicking: the same leads, the same "not your own request", the same binding.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from commands.base import ArgParser, Invocation, Reply, Subcommand, parse_job_id
from core.config import Config
from core.i18n import N_, _


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
    return Reply(result.reply or _outcome_text(result.outcome, job.id, inv.user == job.requested_by, ahead))


def _outcome_text(outcome: str, job_id: int, own: bool, ahead: list[Any]) -> str:
    """What the person who typed approve / deny is told; ``outcome`` is a key, never shown as such."""
    if outcome == "approved" and ahead:
        return _("Approved restore request {job}; it is queued after job {after}.").format(
            job=job_id, after=ahead[-1].id
        )
    if outcome == "approved":
        return _("Approved restore request {job}; it starts now.").format(job=job_id)
    if outcome == "denied" and own:
        return _("Restore request {job} withdrawn; nothing was changed.").format(job=job_id)
    if outcome == "denied":
        return _("Restore request {job} denied; nothing was changed.").format(job=job_id)
    return _("Restore request {job}: {outcome}.").format(job=job_id, outcome=outcome)


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


SPEC = _spec("approve", N_("approve a restore request (leads only; not your own)"))
