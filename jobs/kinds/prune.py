"""The ``prune`` job: apply retention to one database, when a lead asked for it with --confirm.

A job (not an inline reply) because it deletes: it is audited like every job, runs in the
database's lane so it never overlaps a dump or restore of that database, and its message
in the channel says what went. The pruning guard applies here too.
"""

from __future__ import annotations

from core.errors import BackupbotError
from jobs.context import JobContext
from jobs.events import Outcome
from jobs.kinds import JobKind


def run(ctx: JobContext) -> Outcome:
    from engine.prune import PruneSummary, apply_prune, plan_prune
    from jobs.freeze import check_not_frozen
    from jobs.schedule_runs import ensure_schema, last_scheduled_failure

    database = ctx.database
    if ctx.job.params.get("confirm"):
        check_not_frozen(ctx.store, database, "prune", job_id=ctx.job.id)
    ensure_schema(ctx.store)
    with ctx.step(f"plan retention ({database})"):
        plan = plan_prune(ctx.cfg, database, last_failure=last_scheduled_failure(ctx.store, database))
    ctx.check_cancelled()
    if ctx.job.params.get("confirm") and plan.to_delete and not plan.guard:
        with ctx.step(f"delete {len(plan.to_delete)} backup(s), manifest first"):
            plan = apply_prune(ctx.cfg, plan)
    summary = PruneSummary.of(plan)
    if plan.failed:
        raise BackupbotError(
            f"{len(plan.failed)} backup(s) of '{database}' could not be deleted",
            detail="; ".join(f"{i.backup_id}: {i.error}" for i in plan.failed[:5]),
            hint="They are still listed and restorable. Check the bucket's permissions "
            "(s3:DeleteObject) and run `/backup prune` again.",
        )
    fields = [("Database", database), ("Kept", str(summary.kept + summary.locked))]
    if ctx.cfg.database(database).neon_project_id:
        fields.append(("Neon branches", _neon_branches(ctx, bool(ctx.job.params.get("confirm")))))
    if summary.deleted:
        fields.append(("Deleted", ", ".join(f"`{i}`" for i in summary.ids_deleted[:10])))
    if summary.locked:
        fields.append(("Locked", f"{summary.locked} under Object Lock"))
    return Outcome(
        summary=summary.line(),
        fields=tuple(fields),
        data={
            "deleted": summary.ids_deleted,
            "guard": plan.guard,
            "kept": summary.kept,
            "locked": summary.locked,
        },
    )


def _neon_branches(ctx: JobContext, confirm: bool) -> str:
    """Backup branches past their policy: listed, and deleted when a lead confirmed."""
    from engine.neon_prune import apply_branch_prune, plan_branch_prune

    with ctx.step(f"Neon backup branches ({ctx.database})"):
        plan = plan_branch_prune(ctx.cfg, ctx.database, ctx.store)
        if confirm and plan.to_delete:
            plan = apply_branch_prune(ctx.cfg, plan, ctx.store)
    gone = [f"`{i.branch.name}`" for i in plan.items if i.action == "deleted"]
    refused = [f"`{i.branch.name}` ({i.why})" for i in plan.items if i.action == "refused"]
    return (
        plan.line()
        + (f"; deleted {', '.join(gone)}" if gone else "")
        + (f"; refused: {', '.join(refused)}" if refused else "")
    )


KIND = JobKind(name="prune", run=run, description="apply the retention policy to one database")
