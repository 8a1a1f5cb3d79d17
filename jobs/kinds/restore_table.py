"""The ``restore_table`` job: one table of a backup into a scratch database (``engine.restore_table``).

The reply says where the table is, how many rows it has, the ``psql`` commands that copy
rows back by hand (the real database only by the name of its URL's environment variable),
and when the scratch database will be dropped.
"""

from __future__ import annotations

from engine.catalog import get_backup
from engine.restore_table import copy_back_commands, restore_table
from jobs.context import JobContext
from jobs.events import Outcome
from jobs.kinds import JobKind
from jobs.kinds.verify import drop_job_scratch
from jobs.scratch_book import StoreScratchBook


def run(ctx: JobContext) -> Outcome:
    params = ctx.job.params
    manifest = get_backup(ctx.cfg, str(params.get("backup_id") or f"latest:{ctx.database}"))
    with ctx.step(f"restore {params['table']} of {manifest.id} into a scratch database"):
        result = restore_table(
            ctx.cfg, manifest, str(params["table"]), StoreScratchBook(ctx.store), job_id=ctx.job.id
        )
    hours = ctx.cfg.verify.scratch_ttl_hours
    commands = "\n".join(copy_back_commands(ctx.cfg, result))
    return Outcome(
        summary=f"Table `{result.table}` of `{manifest.id}` is in scratch database `{result.scratch_db}` "
        f"on {result.server.rsplit('/', 1)[0]}: {result.rows} rows",
        fields=(
            ("Backup", f"`{manifest.id}`"),
            ("Connect", f'`psql "{result.conninfo}"`'),
            ("Rows", str(result.rows)),
            (
                "Dropped at",
                f"{result.expires_at:%Y-%m-%d %H:%M} UTC (in {hours:g} h, [verify] scratch_ttl_hours)",
            ),
            ("Copy rows back by hand", f"```\n{commands}\n```"),
            (
                "Came with it",
                ", ".join(r for r in result.restored if not r.startswith("TABLE "))[:900] or "-",
            ),
        ),
        data={
            "backup_id": manifest.id,
            "table": result.table,
            "scratch_database": result.scratch_db,
            "rows": result.rows,
            "checksum": result.checksum,
            "expires_at": result.expires_at.isoformat(timespec="seconds"),
            "commands": copy_back_commands(ctx.cfg, result),
        },
    )


def on_interrupted(ctx: JobContext) -> str:
    mine = [r.name for r in StoreScratchBook(ctx.store).all() if r.job_id == ctx.job.id]
    return drop_job_scratch(ctx, mine) if mine else "It had not made a scratch database."


KIND = JobKind(
    name="restore_table",
    run=run,
    on_interrupted=on_interrupted,
    description="one table of a backup into a scratch database on the verification server",
)
