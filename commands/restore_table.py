"""`/backup restore-table ID|latest TABLE [DB]`: one table of a backup into a scratch database.

Never into a configured database: the table lands on the verification server and the
reply says how to copy rows back by hand. Queued as a job; the bucket is read there.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass

from commands.base import ArgParser, Invocation, Reply, Subcommand, queue_job
from commands.verify import backup_and_database
from core.config import Config
from core.errors import UsageError
from core.i18n import N_, _
from jobs.scheduled_verify import scratch_lane

USAGE = "restore-table ID|latest TABLE [DB]"
TABLE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$")


@dataclass(frozen=True)
class RestoreTableCommand:
    backup_ref: str
    table: str
    database: str


def build(p: ArgParser) -> None:
    p.add_argument("backup")
    p.add_argument("table")
    p.add_argument("database", nargs="?")


def request(ns: argparse.Namespace, cfg: Config) -> RestoreTableCommand:
    if not TABLE_RE.match(ns.table):
        raise UsageError(
            _("'{name}' is not a table name").format(name=ns.table[:80]),
            hint=_("Write it as table or schema.table, e.g. `{example}`.").format(
                example="/backup restore-table latest public.invoices prod"
            ),
        )
    ref, db = backup_and_database(cfg, ns.backup, ns.database, USAGE)
    return RestoreTableCommand(backup_ref=ref, table=ns.table, database=db)


def handle(req: RestoreTableCommand, inv: Invocation) -> Reply:
    params = {"backup_id": req.backup_ref, "table": req.table}

    def said(job: int) -> str:
        if req.backup_ref.startswith("latest:"):
            return _(
                "Queued a restore of table `{table}` from the newest backup of `{db}` "
                "into a scratch database as job {job}."
            ).format(table=req.table, db=req.database, job=job)
        return _(
            "Queued a restore of table `{table}` from `{backup}` of `{db}` into a scratch database as job {job}."
        ).format(table=req.table, backup=req.backup_ref, db=req.database, job=job)

    return queue_job(inv, "restore_table", req.database, params, said, lane=scratch_lane(req.database))


SPEC = Subcommand(
    name="restore-table",
    usage=USAGE,
    summary=N_("one table of a backup into a scratch database, with commands to copy rows back"),
    build=build,
    request=request,
    handle=handle,
    examples=("restore-table latest public.invoices prod",),
)
