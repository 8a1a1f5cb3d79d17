"""`/backup verify [ID|latest] [DB]`: prove a backup restores, as a job whose steps post in its thread.

Nothing is resolved against the bucket here (Slack wants an answer within 3 seconds): the
job looks the backup up. The database is the one named, the one in a full id, or the
only one configured; ``latest`` (the default) is that database's newest backup.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from commands.base import ArgParser, Invocation, Reply, Subcommand, queue_job, resolve_database
from core.config import Config
from core.i18n import N_, _
from engine.manifest import ID_RE
from jobs.scheduled_verify import scratch_lane

USAGE = "verify [ID|latest] [DB]"


@dataclass(frozen=True)
class VerifyCommand:
    backup_ref: str  # an id, a unique prefix, or latest:<db>
    database: str


def build(p: ArgParser) -> None:
    p.add_argument("backup", nargs="?", default="latest")
    p.add_argument("database", nargs="?")


def backup_and_database(cfg: Config, ref: str, database: str | None, usage: str) -> tuple[str, str]:
    """(backup ref, database) from what was typed: ``latest`` and full ids name their database."""
    ref = ref.strip()
    if ref in cfg.databases and database is None:  # `/backup verify prod`
        ref, database = "latest", ref
    if ref.lower() == "latest" or ref.lower().startswith("latest:"):
        db = resolve_database(cfg, ref.partition(":")[2] or database, usage)
        return f"latest:{db}", db
    match = ID_RE.match(ref)
    if match and database is None:
        return ref, resolve_database(cfg, match["database"], usage)
    return ref, resolve_database(cfg, database, usage)


def request(ns: argparse.Namespace, cfg: Config) -> VerifyCommand:
    ref, db = backup_and_database(cfg, ns.backup, ns.database, USAGE)
    return VerifyCommand(backup_ref=ref, database=db)


def handle(req: VerifyCommand, inv: Invocation) -> Reply:

    def said(job: int) -> str:
        if req.backup_ref.startswith("latest:"):
            return _("Queued a verification of the newest backup of `{db}` as job {job}.").format(
                db=req.database, job=job
            )
        return _("Queued a verification of backup `{backup}` of `{db}` as job {job}.").format(
            backup=req.backup_ref, db=req.database, job=job
        )

    return queue_job(
        inv, "verify", req.database, {"backup_id": req.backup_ref}, said, lane=scratch_lane(req.database)
    )


SPEC = Subcommand(
    name="verify",
    usage=USAGE,
    summary=N_("prove a backup restores: checksum, contents, scratch restore with row counts"),
    build=build,
    request=request,
    handle=handle,
    examples=("verify latest prod", "verify prod-20261205T030000Z-daily"),
)
