"""`/backup help [COMMAND]`: what each command does and how to type it."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from commands.base import ArgParser, Invocation, Reply, Subcommand
from core.config import Config
from core.i18n import N_, _


@dataclass(frozen=True)
class HelpRequest:
    topic: str | None = None


def build(p: ArgParser) -> None:
    p.add_argument("topic", nargs="?")


def request(ns: argparse.Namespace, cfg: Config) -> HelpRequest:
    return HelpRequest(topic=ns.topic.lower() if ns.topic else None)


def handle(req: HelpRequest, inv: Invocation) -> Reply:
    from commands.grammar import lookup
    from commands.registry import subcommands

    if req.topic:
        spec = lookup(req.topic)
        lines = [f"`/backup {spec.usage}`", _(spec.summary)]
        lines += [_("e.g. `{example}`").format(example=f"/backup {e}") for e in spec.examples]
        return Reply("\n".join(lines))
    # Usage lines are syntax and stay as typed; the summaries were marked with N_() in each SPEC.
    lines = [_("*backupbot* — encrypted PostgreSQL backups. Commands:")]
    lines += [f"• `/backup {s.usage}` — {_(s.summary)}" for s in subcommands().values()]
    dbs = ", ".join(f"`{d}`" for d in sorted(inv.cfg.databases))
    lines.append(_("Databases: {names}.").format(names=dbs) if dbs else _("Databases: none configured."))
    return Reply("\n".join(lines))


SPEC = Subcommand(
    name="help",
    usage="help [COMMAND]",
    summary=N_("this list, or how to use one command"),
    build=build,
    request=request,
    handle=handle,
    needs_permission=False,
    examples=("help dump",),
)
