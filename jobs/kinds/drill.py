"""The ``drill`` job: the scheduler's monthly restore drill of one database (``engine.drill``).

The runbook's steps (or the verification's, without a drill target) are lines in the
job's thread, the runbook entry the last of them; the job's message ends with the
recovery time, step by step, beside the previous drill's. A failed drill is a failed
scheduled job: the scheduler alerts on-call with a Retry button.
"""

from __future__ import annotations

from core.i18n import _
from engine.drill import compare_lines, run_drill
from engine.restore_plan import RestoreFailed
from engine.restore_steps import lock_name
from jobs.context import JobContext
from jobs.events import Outcome
from jobs.freeze import check_not_frozen
from jobs.kinds import JobKind
from jobs.kinds.restore import _on_step as restore_step_reporter
from jobs.kinds.verify import drop_job_scratch, step_reporter
from jobs.scratch_book import StoreScratchBook


def run(ctx: JobContext) -> Outcome:
    database = ctx.database
    target = ctx.cfg.database(database).drill_target
    if target:  # a freeze of the drill target stops the drill like any restore into it
        check_not_frozen(ctx.store, target, "restore drill", actor="scheduler", job_id=ctx.job.id)
    try:
        report = run_drill(
            ctx.cfg,
            database,
            ctx.store,
            StoreScratchBook(ctx.store),
            on_restore_step=restore_step_reporter(ctx),
            on_verify_step=step_reporter(ctx),
            on_progress=lambda text: ctx.progress(text),
            cancel=ctx.cancel,
            job_id=ctx.job.id,
        )
    except RestoreFailed as failed:
        ctx.store.update_job(ctx.job.id, result={"restore": failed.report.restore_id})
        raise
    prev = report.previous
    if prev:
        previous = _("{seconds} s on {day}").format(
            seconds=f"{prev['seconds']:.1f}", day=str(prev["at"])[:10]
        )
    else:
        previous = _("none (first drill)")
    fields = [
        (_("Backup"), f"`{report.backup_id}`"),
        (_("Restored into"), report.into),
        (
            _("Recovery time"),
            _("{seconds} s (previous drill: {previous})").format(
                seconds=f"{report.seconds:.1f}", previous=previous
            ),
        ),
        (_("Steps"), "\n".join(compare_lines(report))),
        (_("Approval"), report.approval),
    ]
    if report.runbook_key:
        fields.append((_("Runbook"), f"`{report.runbook_key}`"))
    return Outcome(
        summary=_("Monthly restore drill of `{db}` passed: recovered in {seconds} s").format(
            db=database, seconds=f"{report.seconds:.1f}"
        ),
        fields=tuple(fields),
        data=report.record() | {"database": database, "runbook_key": report.runbook_key, "previous": prev},
    )


def on_interrupted(ctx: JobContext) -> str:
    """Free the drill target's lock and drop a scratch database the dead drill made."""
    target = ctx.cfg.databases[ctx.job.database].drill_target if ctx.job.database in ctx.cfg.databases else ""
    if target:
        with ctx.store.transaction() as db:
            db.execute("DELETE FROM locks WHERE name = ? AND job_id = ?", [lock_name(target), ctx.job.id])
    mine = [r.name for r in StoreScratchBook(ctx.store).all() if r.job_id == ctx.job.id]
    said = drop_job_scratch(ctx, mine) if mine else ""
    where = (
        _("The drill target '{db}' may be in maintenance or partly restored.").format(db=target)
        if target
        else ""
    )
    return f"{where} {said}".strip()


KIND = JobKind(
    name="drill",
    run=run,
    on_interrupted=on_interrupted,
    description="the monthly restore drill: newest good backup through the runbook, timed",
)
