"""A ``restore`` job whose source is Neon: the same approval check, then ``engine.neon_restore``.

It is still a ``restore`` job (one gate, one card, one expiry for every restore); the
``restore`` kind hands it here when its backup id starts with ``neon``.
"""

from __future__ import annotations

from core.i18n import _
from engine.neon_restore import run_neon_restore, undo_command
from engine.restore_plan import RestoreFailed
from engine.restore_report import RestoreRequest
from jobs.context import JobContext
from jobs.events import CONSOLE_CHANNEL, Outcome


def run_neon(ctx: JobContext) -> Outcome:
    from jobs.kinds.restore import _on_step, require_approvals

    job, target, params = ctx.job, ctx.database, ctx.job.params
    approvers = require_approvals(
        ctx, _("{have} of {need} approvals match the source, target and requester shown.")
    )
    request = RestoreRequest(
        backup_id=str(params["backup_id"]),
        target=target,
        requested_by=job.requested_by,
        approved_by=tuple(approvers),
        reason=str(params.get("reason", "")),
        via="console" if job.channel == CONSOLE_CHANNEL else "Slack",
        job_id=job.id,
    )
    try:
        report = run_neon_restore(
            ctx.cfg, request, params, state=ctx.store, on_step=_on_step(ctx), on_progress=ctx.progress
        )
    except RestoreFailed as failed:
        ctx.store.update_job(
            job.id, result={"restore": failed.report.restore_id, "preserved": failed.report.preserved}
        )
        raise
    total = sum(s.seconds or 0 for s in report.steps)
    fields = (
        (_("Source"), f"`{request.backup_id}`"),
        (
            _("Target"),
            _("`{db}` (Neon branch `{branch}`)").format(db=target, branch=params["neon_target_branch_name"]),
        ),
        (_("Approved by"), ", ".join(f"<@{u}>" for u in approvers)),
        (_("Preserved as"), f"`{report.preserved}`"),
        (_("Runbook"), f"`{report.runbook_key}`"),
        (_("Duration"), f"{total:.1f} s"),
        (_("Undo"), f"`{undo_command(report.preserved, target, report.restore_id)}`"),
    )
    return Outcome(
        summary=_("Restored `{backup}` into `{db}`: {state}").format(
            backup=request.backup_id, db=target, state=report.state
        ),
        fields=fields,
        data={
            "restore_id": report.restore_id,
            "backup_id": request.backup_id,
            "preserved": report.preserved,
            "runbook_key": report.runbook_key,
            "operations": report.operations,
            "seconds": total,
        },
    )
