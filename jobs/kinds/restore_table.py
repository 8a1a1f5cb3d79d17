"""The ``restore_table`` job: one table of a backup into a scratch database (``engine.restore_table``).

The reply says where the table is, how many rows it has, the ``psql`` commands that copy
rows back by hand (the real database only by the name of its URL's environment variable),
and when the scratch database will be dropped.
"""

from __future__ import annotations

from core.i18n import _, ngettext
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
    with ctx.step(
        _("restore {table} of {backup} into a scratch database").format(
            table=params["table"], backup=manifest.id
        )
    ):
        result = restore_table(
            ctx.cfg, manifest, str(params["table"]), StoreScratchBook(ctx.store), job_id=ctx.job.id
        )
    hours = ctx.cfg.verify.scratch_ttl_hours
    commands = "\n".join(copy_back_commands(ctx.cfg, result))
    return Outcome(
        summary=ngettext(
            "Table `{table}` of `{backup}` is in scratch database `{scratch}` on {server}: {rows} row",
            "Table `{table}` of `{backup}` is in scratch database `{scratch}` on {server}: {rows} rows",
            result.rows,
        ).format(
            table=result.table,
            backup=manifest.id,
            scratch=result.scratch_db,
            server=result.server.rsplit("/", 1)[0],
            rows=result.rows,
        ),
        fields=(
            (_("Backup"), f"`{manifest.id}`"),
            (_("Connect"), f'`psql "{result.conninfo}"`'),
            (_("Rows"), str(result.rows)),
            (
                _("Dropped at"),
                _("{at} UTC (in {hours} h, [verify] scratch_ttl_hours)").format(
                    at=f"{result.expires_at:%Y-%m-%d %H:%M}", hours=f"{hours:g}"
                ),
            ),
            (_("Copy rows back by hand"), f"```\n{commands}\n```"),
            (
                _("Came with it"),
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
    return drop_job_scratch(ctx, mine) if mine else _("It had not made a scratch database.")


KIND = JobKind(
    name="restore_table",
    run=run,
    on_interrupted=on_interrupted,
    description="one table of a backup into a scratch database on the verification server",
)
