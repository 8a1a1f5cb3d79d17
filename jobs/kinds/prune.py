"""The ``prune`` job: apply retention to one database, when a lead asked for it with --confirm.

A job (not an inline reply) because it deletes: it is audited like every job, runs in the
database's lane so it never overlaps a dump or restore of that database, and its message
in the channel says what went. The pruning guard applies here too.
"""

from __future__ import annotations

from core.errors import BackupbotError
from core.i18n import _, ngettext
from jobs.context import JobContext
from jobs.events import Outcome
from jobs.kinds import JobKind


def run(ctx: JobContext) -> Outcome:
    from engine.prune import PruneSummary, apply_prune, plan_prune
    from engine.uploads import FAILED, abort_stale, stale_uploads
    from jobs.freeze import check_not_frozen
    from jobs.schedule_runs import ensure_schema, last_scheduled_failure

    database = ctx.database
    if ctx.job.params.get("confirm"):
        check_not_frozen(ctx.store, database, "prune", job_id=ctx.job.id)
    ensure_schema(ctx.store)
    with ctx.step(_("plan retention ({db})").format(db=database)):
        plan = plan_prune(ctx.cfg, database, last_failure=last_scheduled_failure(ctx.store, database))
    ctx.check_cancelled()
    if ctx.job.params.get("confirm") and plan.to_delete and not plan.guard:
        n = len(plan.to_delete)
        with ctx.step(
            ngettext("delete {n} backup, manifest first", "delete {n} backups, manifest first", n).format(n=n)
        ):
            plan = apply_prune(ctx.cfg, plan)
    elif ctx.job.params.get("confirm") and plan.orphans:
        # Leftovers are not backups: the guard keeps backups, never these (engine.prune).
        n = len(plan.orphans)
        with ctx.step(
            ngettext(
                "delete {n} leftover object without a manifest",
                "delete {n} leftover objects without a manifest",
                n,
            ).format(n=n)
        ):
            plan = apply_prune(ctx.cfg, plan)
    uploads = []
    if ctx.job.params.get("confirm"):
        with ctx.step(_("abort unfinished uploads older than a day ({db})").format(db=database)):
            uploads = abort_stale(ctx.cfg, stale_uploads(ctx.cfg, database))
    summary = PruneSummary.of(plan)
    if plan.failed:
        raise BackupbotError(
            ngettext(
                "{n} backup of '{db}' could not be deleted",
                "{n} backups of '{db}' could not be deleted",
                len(plan.failed),
            ).format(n=len(plan.failed), db=database),
            detail="; ".join(f"{i.backup_id}: {i.error}" for i in plan.failed[:5]),
            hint=_(
                "They are still listed and restorable. Check the bucket's permissions "
                "(s3:DeleteObject) and run `/backup prune` again."
            ),
        )
    failed_orphans = [o for o in plan.orphans if o.action == FAILED]
    if failed_orphans:
        raise BackupbotError(
            ngettext(
                "{n} leftover object of '{db}' could not be deleted",
                "{n} leftover objects of '{db}' could not be deleted",
                len(failed_orphans),
            ).format(n=len(failed_orphans), db=database),
            detail="; ".join(f"{o.key}: {o.error}" for o in failed_orphans[:5]),
            hint=_(
                "They are not backups (no manifest), only storage. Check the bucket's permissions "
                "(s3:DeleteObject) and run `/backup prune --confirm` again."
            ),
        )
    failed_uploads = [u for u in uploads if u.action == FAILED]
    if failed_uploads:
        raise BackupbotError(
            ngettext(
                "{n} unfinished upload of '{db}' could not be aborted",
                "{n} unfinished uploads of '{db}' could not be aborted",
                len(failed_uploads),
            ).format(n=len(failed_uploads), db=database),
            detail="; ".join(f"{u.upload.key}: {u.error}" for u in failed_uploads[:5]),
            hint=_("Check the bucket's permissions (s3:AbortMultipartUpload) and run `/backup prune` again."),
        )
    fields = [(_("Database"), database), (_("Kept"), str(summary.kept + summary.locked))]
    if uploads:
        fields.append((_("Unfinished uploads aborted"), str(len(uploads))))
    if ctx.cfg.database(database).neon_project_id:
        fields.append((_("Neon branches"), _neon_branches(ctx, bool(ctx.job.params.get("confirm")))))
    if summary.deleted:
        fields.append((_("Deleted"), ", ".join(f"`{i}`" for i in summary.ids_deleted[:10])))
    if summary.locked:
        fields.append((_("Locked"), _("{n} under Object Lock").format(n=summary.locked)))
    return Outcome(
        summary=summary.line(),
        fields=tuple(fields),
        data={
            "deleted": summary.ids_deleted,
            "guard": plan.guard,
            "kept": summary.kept,
            "locked": summary.locked,
            "uploads_aborted": [u.upload.key for u in uploads],
            "orphans": [o.as_dict() for o in plan.orphans],
        },
    )


def _neon_branches(ctx: JobContext, confirm: bool) -> str:
    """Backup branches past their policy: listed, and deleted when a lead confirmed."""
    from engine.neon_prune import apply_branch_prune, plan_branch_prune

    with ctx.step(_("Neon backup branches ({db})").format(db=ctx.database)):
        plan = plan_branch_prune(ctx.cfg, ctx.database, ctx.store)
        if confirm and plan.to_delete:
            plan = apply_branch_prune(ctx.cfg, plan, ctx.store)
    gone = [f"`{i.branch.name}`" for i in plan.items if i.action == "deleted"]
    refused = [f"`{i.branch.name}` ({i.why})" for i in plan.items if i.action == "refused"]
    text = plan.line()
    if gone:
        text += "; " + _("deleted {branches}").format(branches=", ".join(gone))
    if refused:
        text += "; " + _("refused: {branches}").format(branches=", ".join(refused))
    return text


KIND = JobKind(name="prune", run=run, description="apply the retention policy to one database")
