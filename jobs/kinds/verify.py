"""The ``verify`` job: prove one backup restores (``engine.verify``), step by step in the thread.

Each of the four steps is a line in the job's thread; the job's own message ends with the
outcome, which the engine has also written beside the manifest. A verify killed with its
process leaves a scratch database: ``on_interrupted`` drops it when the runner finds the
job dead, and any later verification drops what is still left (``engine.scratch.sweep``).
"""

from __future__ import annotations

from collections.abc import Callable

from core.i18n import _, ngettext
from engine.catalog import get_backup
from engine.verify import VerifyFailed, VerifyStep, verify_backup
from jobs.context import JobContext
from jobs.events import Outcome, StepResult
from jobs.kinds import JobKind
from jobs.scratch_book import StoreScratchBook


def step_reporter(ctx: JobContext, total: int = 4) -> Callable[[VerifyStep], None]:
    def on_step(rec: VerifyStep) -> None:
        status = rec.status if rec.status in ("running", "ok", "failed", "skipped") else "failed"
        ctx.reporter.step(
            ctx.job,
            StepResult(
                name=f"{rec.number}/{total} {rec.title}",
                status=status,
                duration=rec.seconds,
                detail=rec.detail,
            ),  # type: ignore[arg-type]
        )

    return on_step


def run(ctx: JobContext) -> Outcome:
    params = ctx.job.params
    manifest = get_backup(ctx.cfg, str(params.get("backup_id") or f"latest:{ctx.database}"))
    try:
        report = verify_backup(
            ctx.cfg,
            manifest,
            StoreScratchBook(ctx.store),
            on_step=step_reporter(ctx),
            on_progress=lambda text: ctx.progress(text),
            cancel=ctx.cancel,
            job_id=ctx.job.id,
        )
    except VerifyFailed as failed:
        ctx.store.update_job(ctx.job.id, result=failed.report.outcome())
        raise
    timings = ", ".join(f"{s.title} {s.seconds or 0:.1f} s" for s in report.steps)
    return Outcome(
        summary=_("Backup `{id}` verified: all 4 steps passed").format(id=manifest.id),
        fields=(
            (_("Backup"), f"`{manifest.id}`"),
            (_("Database"), manifest.database),
            (_("Steps"), timings),
            (_("Outcome"), f"`{report.record_key}`"),
        ),
        data=report.outcome() | {"record_key": report.record_key},
    )


def on_interrupted(ctx: JobContext) -> str:
    """Drop the scratch database the dead job made, if the server answers now."""
    book = StoreScratchBook(ctx.store)
    mine = [r for r in book.all() if r.job_id == ctx.job.id]
    if not mine:
        return _("It had not made a scratch database.")
    return drop_job_scratch(ctx, [r.name for r in mine])


def drop_job_scratch(ctx: JobContext, names: list[str]) -> str:
    """Drop a dead job's scratch databases now; what fails stays in the book for the next sweep."""
    from core.errors import BackupbotError
    from engine import scratch

    book = StoreScratchBook(ctx.store)
    left = []
    for name in names:
        try:
            scratch.drop(scratch.server_url(ctx.cfg), book, name)
        except BackupbotError:
            left.append(name)
    if left:
        return ngettext(
            "Scratch database {names} could not be dropped yet; the next verification drops it.",
            "Scratch databases {names} could not be dropped yet; the next verification drops them.",
            len(left),
        ).format(names=", ".join(left))
    return ngettext(
        "Its scratch database {names} was dropped.", "Its scratch databases {names} were dropped.", len(names)
    ).format(names=", ".join(names))


KIND = JobKind(
    name="verify",
    run=run,
    on_interrupted=on_interrupted,
    description="prove a backup restores: integrity, contents, scratch restore with row counts",
)
