"""The ``restore`` job: the emergency runbook, run once enough leads approved it.

The runner only starts a restore after ``jobs.approvals`` moved it out of
``awaiting_approval``; this module checks the approvals again against the job as it is
now (so an approval for another backup, target or requester never counts), then hands
the eight steps to the engine and turns each into a line in the job's thread. The
runbook entry is the last line, so the channel has it as well as the bucket and the file.
"""

from __future__ import annotations

from collections.abc import Callable

from core.errors import RestoreError
from core.i18n import _
from engine import restore_swap
from engine.catalog import get_backup
from engine.restore import RestoreRequest, StepRecord, run_restore
from engine.restore_plan import RestoreFailed, undo_command
from engine.restore_steps import lock_name
from jobs.approvals import approved_users
from jobs.context import JobContext
from jobs.events import CONSOLE_CHANNEL, Outcome, StepResult
from jobs.freeze import check_not_frozen
from jobs.kinds import JobKind
from jobs.people import names


def _on_step(ctx: JobContext) -> Callable[[StepRecord], None]:
    def on_step(rec: StepRecord) -> None:
        detail = rec.detail + (f"\n```\n{rec.attachment.strip()}\n```" if rec.attachment else "")
        status = rec.status if rec.status in ("running", "ok", "failed", "skipped") else "failed"
        ctx.reporter.step(
            ctx.job,
            StepResult(
                name=f"{rec.number}/{rec.total} {rec.title}",
                status=status,
                duration=rec.seconds,
                detail=detail,
            ),  # type: ignore[arg-type]
        )

    return on_step


def require_approvals(ctx: JobContext, mismatch: str) -> list[str]:
    """The leads whose approval still matches what was shown; refused before anything runs if too few.

    ``mismatch`` says what an approval must match, with ``{have}`` and ``{need}``.
    """
    job, target = ctx.job, ctx.database
    approvers = approved_users(ctx.store, job)
    required = max(1, int(job.params.get("approvals_required", 1)))
    if len(approvers) < required:
        raise RestoreError(
            _("restore job {id} into '{db}' has no valid approval").format(id=job.id, db=target),
            detail=mismatch.format(have=len(approvers), need=required),
            hint=_("Nothing was changed. Ask for the restore again with `/backup restore`."),
        )
    return approvers


def run(ctx: JobContext) -> Outcome:
    job = ctx.job
    target = ctx.database
    params = job.params
    check_not_frozen(ctx.store, target, "restore", job_id=job.id)
    if str(params.get("backup_id", "")).startswith(("neon:", "neon@", "neon-snapshot:")):
        from jobs.kinds.neon_restore import run_neon

        return run_neon(ctx)
    approvers = require_approvals(
        ctx, _("{have} of {need} approvals match the backup, target and requester shown.")
    )
    if str(params["backup_id"]).startswith(UNDO_PREFIX):
        return _undo(ctx, str(params["backup_id"])[len(UNDO_PREFIX) :], approvers)
    manifest = get_backup(ctx.cfg, str(params["backup_id"]))
    request = RestoreRequest(
        backup_id=manifest.id,
        target=target,
        requested_by=job.requested_by,
        approved_by=tuple(approvers),
        reason=str(params.get("reason", "")),
        via="console" if job.channel == CONSOLE_CHANNEL else "Slack",
        job_id=job.id,
        names=tuple(sorted(names(ctx.store).items())),
    )
    try:
        report = run_restore(
            ctx.cfg,
            request,
            state=ctx.store,
            on_step=_on_step(ctx),
            on_progress=lambda text: ctx.progress(text),
            backup=manifest,
            cancel=ctx.cancel,
        )
    except RestoreFailed as failed:
        ctx.store.update_job(
            job.id, result={"restore": failed.report.restore_id, "safety_id": failed.report.safety_id}
        )
        raise
    fields = [
        (_("Backup"), f"`{manifest.id}`"),
        (_("Target"), f"`{target}`"),
        (_("Approved by"), ", ".join(f"<@{u}>" for u in approvers)),
        (_("Safety dump"), f"`{report.safety_id}`"),
        (_("Runbook"), f"`{report.runbook_key}`"),
        (_("Duration"), f"{sum(s.seconds or 0 for s in report.steps):.0f} s"),
    ]
    if report.extra.get("method") == "swap":
        fields.append(
            (
                _("Undo"),
                _(
                    "`/backup undo {id}` swaps the replaced database `{previous}` back while it is kept"
                ).format(id=report.restore_id, previous=report.extra.get("previous_db")),
            )
        )
    created = report.extra.get("roles_created") or []
    if created:  # they have no password: whoever logs in as one needs it set (the runbook says how)
        fields.append(
            (
                _("Roles created"),
                _("{roles} (no password: set one with `ALTER ROLE … PASSWORD` where they log in)").format(
                    roles=", ".join(f"`{r}`" for r in created)
                ),
            )
        )
    if report.safety_id:
        label = _("Undo from the safety dump") if report.extra.get("method") == "swap" else _("Undo")
        fields.append((label, f"`{undo_command(report.safety_id, target, report.restore_id)}`"))
    return Outcome(
        summary=_("Restored `{backup}` into `{db}`: {state}").format(
            backup=manifest.id, db=target, state=report.state
        ),
        fields=tuple(fields),
        data={
            "restore_id": report.restore_id,
            "backup_id": manifest.id,
            "safety_id": report.safety_id,
            "runbook_key": report.runbook_key,
            "mode": report.mode,
            "roles_created": list(created),
        },
    )


UNDO_PREFIX = "undo:"  # an undo request is a restore job whose "backup" is the restore it swaps back


def _undo(ctx: JobContext, restore_id: str, approvers: list[str]) -> Outcome:
    """Swap back a swap restore, after the same approval a restore needs."""
    with ctx.step(_("Swap back")):
        text = restore_swap.undo(
            ctx.cfg, ctx.store, restore_id, holder=ctx.job.requested_by, job_id=ctx.job.id
        )
    ctx.store.audit(ctx.job.id, "restore_undone", ctx.job.requested_by, {"restore_id": restore_id})
    return Outcome(
        summary=_("Undid restore `{id}`: {text}").format(id=restore_id, text=text),
        fields=(
            (_("Target"), f"`{ctx.job.database}`"),
            (_("Approved by"), ", ".join(f"<@{u}>" for u in approvers)),
        ),
        data={"undo_of": restore_id},
    )


def on_interrupted(ctx: JobContext) -> str:
    """Free the target's lock; undo a half-done swap, or say where the safety dump is."""
    target = ctx.job.database or ""
    with ctx.store.transaction() as db:
        db.execute("DELETE FROM locks WHERE name = ? AND job_id = ?", [lock_name(target), ctx.job.id])
    preserved = ctx.job.params.get("preserve_under_name")
    if preserved:  # a Neon restore: Neon kept the state before as a branch, if it got that far
        return _(
            "The target '{db}' may be in maintenance or being restored by Neon. If `/backup branches {db}` "
            'lists `{preserved}`, `backupbot restore neon:{preserved} --target {db} --break-glass --reason "…"` '
            "puts back what was there before."
        ).format(db=target, preserved=preserved)
    swaps = [r for r in restore_swap.records(ctx.store).values() if r.get("job_id") == ctx.job.id]
    if swaps:
        rec = swaps[-1]
        if rec.get("phase") in ("building", "built", "switching"):
            return restore_swap.recover(ctx.cfg.database(target).restore_url(), rec, ctx.store)
        if rec.get("phase") == "switched":
            return _(
                "The restore had switched databases: '{db}' holds the backup, the replaced database is "
                "kept as {previous}. Check the app; `/backup undo {id}` swaps it back."
            ).format(db=target, previous=rec["previous"], id=rec["restore_id"])
    return _(
        "The target '{db}' may be in maintenance or partly restored. If a pre-restore backup of it was "
        'listed, `backupbot restore <that id> --target {db} --break-glass --reason "…"` puts it back.'
    ).format(db=target)


KIND = JobKind(
    name="restore",
    run=run,
    on_interrupted=on_interrupted,
    description="restore a backup into a database after approval (the emergency runbook)",
)
