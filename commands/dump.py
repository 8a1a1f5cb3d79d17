"""`/backup dump [DB] [--reason TEXT]`: queue an encrypted backup now."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from commands.base import ArgParser, Invocation, Reply, Subcommand, resolve_database
from core.config import Config
from jobs.queue import ahead_of, enqueue

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
    job = enqueue(
        inv.store,
        "dump",
        req.database,
        {"kind": "manual", "reason": req.reason},
        requested_by=inv.user,
        channel=inv.channel,
        reporter=inv.reporter,
    )
    inv.wake()
    waiting = ahead_of(inv.store, job)
    behind = f", after job {waiting[-1].id}" if waiting else ""
    return Reply(f"Queued a backup of `{req.database}` as job {job.id}{behind}.", job_id=job.id)


SPEC = Subcommand(
    name="dump",
    usage=USAGE,
    summary="take an encrypted backup now",
    build=build,
    request=request,
    handle=handle,
    examples=('dump prod --reason "before invoice import"',),
)
