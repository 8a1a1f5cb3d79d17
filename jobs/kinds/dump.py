"""The ``dump`` job: one encrypted backup of one database, with live progress.

All the work is the engine's ``run_dump``; this module turns its progress callbacks
into reporter updates, passes the runner's cancel event and clock through (the clock
stamps the backup, so schedule tests can run weeks of nights through this real path),
and, when a process died mid-dump, aborts the multipart upload it left open so no
orphaned parts are billed.
"""

from __future__ import annotations

from typing import Any

from core.units import human_bytes
from jobs.context import JobContext
from jobs.events import Outcome
from jobs.kinds import JobKind


def human_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def run(ctx: JobContext) -> Outcome:
    from engine.dump import run_dump

    database = ctx.database
    params = ctx.job.params

    def on_progress(p: Any) -> None:
        ctx.progress(
            f"{human_bytes(p.bytes_in)} read · {human_bytes(p.bytes_out)} stored · "
            f"{human_bytes(p.rate)}/s · {human_duration(p.elapsed)}",
            elapsed=p.elapsed,
        )

    with ctx.step(f"pg_dump → zstd → encrypt → upload ({database})"):
        manifest = run_dump(
            ctx.cfg,
            database,
            kind=params.get("kind", "manual"),
            reason=params.get("reason", ""),
            requested_by=ctx.job.requested_by or "bot",
            on_progress=on_progress,
            cancel=ctx.cancel,
            now=ctx.clock() if ctx.clock else None,
        )
    fields = [
        ("Database", database),
        ("Backup", f"`{manifest.id}`"),
        ("Stored", human_bytes(manifest.stored_bytes)),
        ("Dump size", human_bytes(manifest.dump_bytes)),
        ("Duration", human_duration(manifest.duration_seconds)),
    ]
    if manifest.reason:
        fields.append(("Reason", manifest.reason))
    return Outcome(
        summary=f"Backup `{manifest.id}` stored",
        fields=tuple(fields),
        data={
            "backup_id": manifest.id,
            "key": manifest.key,
            "stored_bytes": manifest.stored_bytes,
            "dump_bytes": manifest.dump_bytes,
            "duration_seconds": manifest.duration_seconds,
        },
    )


def on_interrupted(ctx: JobContext) -> str:
    """Abort the uploads a killed dump left open under this database's prefix."""
    from adapters.storage import open_storage

    aborted = open_storage(ctx.cfg.storage).abort_incomplete(f"db/{ctx.database}/")
    return f"{aborted} partial upload(s) aborted." if aborted else "No partial upload was left behind."


KIND = JobKind(
    name="dump",
    run=run,
    on_interrupted=on_interrupted,
    description="an encrypted backup of one database",
)
