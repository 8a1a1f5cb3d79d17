"""`/backup doctor`: the same checks as `backupbot doctor`, answered privately to whoever asked.

The checks take seconds (connections, a probe object, Slack), so the reply says "checking"
at once and the report follows. Every line is redacted; URLs appear as user@host:port/db.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from commands.base import ArgParser, Invocation, Reply, Subcommand
from core.config import Config
from core.i18n import N_, _


@dataclass(frozen=True)
class DoctorRequest:
    pass


def build(p: ArgParser) -> None:
    pass


def request(ns: argparse.Namespace, cfg: Config) -> DoctorRequest:
    return DoctorRequest()


def _report(inv: Invocation) -> Reply:
    from engine.doctor import render_slack, run_doctor

    path = inv.cfg.path if not inv.cfg.path.startswith("<") else None
    return Reply(render_slack(run_doctor(path)), ephemeral=True)


def handle(req: DoctorRequest, inv: Invocation) -> Reply:
    return Reply(
        _("Checking the databases, the bucket, the keys, Slack and the hooks…"), later=lambda: _report(inv)
    )


SPEC = Subcommand(
    name="doctor",
    usage="doctor",
    summary=N_("check databases, bucket, keys, Slack and hooks (answered only to you)"),
    build=build,
    request=request,
    handle=handle,
    examples=("doctor",),
)
