"""The ``dump`` job: one encrypted backup of one database, with live progress.

All the work is the engine's ``run_dump``; this module turns its progress callbacks
into reporter updates, passes the runner's cancel event and clock through (the clock
stamps the backup, so schedule tests can run weeks of nights through this real path),
and, when a process died mid-dump, aborts the multipart upload it left open so no
orphaned parts are billed. Only that one: the upload id is recorded on the job the moment
the upload starts, because other processes (a CLI dump in a deploy pipeline) may be
uploading under the same database's prefix at the same time.
"""

from __future__ import annotations

from typing import Any

from core.i18n import _
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
            _("{read} read · {stored} stored · {rate}/s · {elapsed}").format(
                read=human_bytes(p.bytes_in),
                stored=human_bytes(p.bytes_out),
                rate=human_bytes(p.rate),
                elapsed=human_duration(p.elapsed),
            ),
            elapsed=p.elapsed,
        )

    def on_upload(key: str, upload_id: str) -> None:
        ctx.store.update_job(ctx.job.id, params={**params, "upload": {"key": key, "upload_id": upload_id}})

    with ctx.step(_("pg_dump → zstd → encrypt → upload ({db})").format(db=database)):
        manifest = run_dump(
            ctx.cfg,
            database,
            kind=params.get("kind", "manual"),
            reason=params.get("reason", ""),
            requested_by=ctx.job.requested_by or "bot",
            on_progress=on_progress,
            cancel=ctx.cancel,
            now=ctx.clock() if ctx.clock else None,
            on_upload=on_upload,
        )
    fields = [
        (_("Database"), database),
        (_("Backup"), f"`{manifest.id}`"),
        (_("Stored"), human_bytes(manifest.stored_bytes)),
        (_("Dump size"), human_bytes(manifest.dump_bytes)),
        (_("Duration"), human_duration(manifest.duration_seconds)),
    ]
    if manifest.reason:
        fields.append((_("Reason"), manifest.reason))
    return Outcome(
        summary=_("Backup `{id}` stored").format(id=manifest.id),
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
    """Abort the upload this dump recorded, and no other; say truthfully whether that worked."""
    from adapters.storage import open_storage
    from core.errors import BackupbotError

    upload = ctx.job.params.get("upload")
    if not isinstance(upload, dict) or not upload.get("upload_id"):
        return _("Its upload had not started, so nothing was left behind.")
    key, upload_id = str(upload["key"]), str(upload["upload_id"])
    try:
        aborted = open_storage(ctx.cfg.storage).abort_upload(key, upload_id)
    except BackupbotError as err:
        return _(
            "Its partial upload of {key} could NOT be aborted ({error}); `/backup prune {db} --confirm` "
            "(or `backupbot prune --confirm`) removes it once it is a day old."
        ).format(key=key, error=err.message, db=ctx.database)
    if aborted:
        return _("Its partial upload of {key} was aborted.").format(key=key)
    return _(
        "Its upload of {key} was already gone (completed or aborted), so nothing was left behind."
    ).format(key=key)


KIND = JobKind(
    name="dump",
    run=run,
    on_interrupted=on_interrupted,
    description="an encrypted backup of one database",
)
