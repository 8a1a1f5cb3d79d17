"""`/backup dump [DB] [--reason TEXT]`: queue an encrypted backup now."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from commands.base import ArgParser, Invocation, Reply, Subcommand, queue_job, resolve_database
from core.config import Config
from core.i18n import N_, _

USAGE = "dump [DB] [--reason TEXT]"


@dataclass(frozen=True)
class DumpRequest:
    database: str
    reason: str = ""


def build(p: ArgParser) -> None:
    p.add_argument("database", nargs="?")
    p.add_argument("--reason", "-r", default="")


def request(ns: argparse.Namespace, cfg: Config) -> DumpRequest:
    return DumpRequest(database=resolve_database(cfg, ns.database, USAGE), reason=ns.reason.strip())


def handle(req: DumpRequest, inv: Invocation) -> Reply:
    params = {"kind": "manual", "reason": req.reason}
    return queue_job(
        inv,
        "dump",
        req.database,
        params,
        lambda job: _("Queued a backup of `{db}` as job {job}.").format(db=req.database, job=job),
    )


SPEC = Subcommand(
    name="dump",
    usage=USAGE,
    summary=N_("take an encrypted backup now"),
    build=build,
    request=request,
    handle=handle,
    examples=('dump prod --reason "before invoice import"',),
)
