"""`/backup branch [DB] [--name NAME] [--at TIMESTAMP] [--reason TEXT] [--keep]`: a Neon backup branch now.

The branch is made by a job (Neon's operations take seconds to minutes), so the reply is
"queued" and the job's message says when Neon reports the branch ready. A timestamp that
is not one, or a database that is not on Neon, is refused here before anything is queued.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from commands.base import ArgParser, Invocation, Reply, Subcommand, queue_job, resolve_database, usage_hint
from core.config import Config
from core.errors import UsageError
from core.i18n import N_, _

USAGE = "branch [DB] [--name NAME] [--at TIMESTAMP] [--reason TEXT] [--keep]"


@dataclass(frozen=True)
class BranchRequest:
    database: str
    name: str = ""
    at: str = ""
    reason: str = ""
    keep: bool = False


def build(p: ArgParser) -> None:
    p.add_argument("database", nargs="?")
    p.add_argument("--name", "-n", default="")
    p.add_argument("--at", default="")
    p.add_argument("--reason", "-r", default="")
    p.add_argument("--keep", action="store_true")


def neon_database(cfg: Config, name: str | None, usage: str) -> str:
    from engine.neon_branches import pick_neon_database

    if name is not None:
        resolve_database(cfg, name, usage)  # the nearest name when it is a typo
    return pick_neon_database(cfg, name, f"/backup {usage}")


def request(ns: argparse.Namespace, cfg: Config) -> BranchRequest:
    from engine.neon_branches import iso, parse_time

    database = neon_database(cfg, ns.database, USAGE)
    at = iso(parse_time(ns.at)) if ns.at else ""
    name = ns.name.strip()
    if name and (len(name) > 256 or not name.isprintable()):
        raise UsageError(
            _("--name must be 1 to 256 printable characters"), hint=usage_hint(f"/backup {USAGE}")
        )
    return BranchRequest(database, name, at, ns.reason.strip(), bool(ns.keep))


def handle(req: BranchRequest, inv: Invocation) -> Reply:
    params = {"kind": "manual", "reason": req.reason, "name": req.name, "at": req.at, "keep": req.keep}

    def said(job: int) -> str:
        if req.at:
            return _("Queued a Neon backup branch of `{db}` at {at} as job {job}.").format(
                db=req.database, at=req.at, job=job
            )
        return _("Queued a Neon backup branch of `{db}` as job {job}.").format(db=req.database, job=job)

    return queue_job(inv, "branch", req.database, params, said)


SPEC = Subcommand(
    name="branch",
    usage=USAGE,
    summary=N_("make a Neon backup branch now (no compute; expires with pre_event_days unless --keep)"),
    build=build,
    request=request,
    handle=handle,
    examples=('branch prod --reason "before invoice import"', "branch prod --at 2026-01-31T14:05:00Z"),
)
