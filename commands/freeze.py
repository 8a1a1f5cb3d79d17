"""`/backup freeze [DB] --reason TEXT` and `/backup unfreeze [DB]`: a lead stops destructive work on a database.

Only the database's leads (its ``approvers`` or ``approver_group``, the people who approve its
restores) may freeze or unfreeze it; ``jobs.freeze`` keeps the freeze, audits both and is
what restores and prunes check before they act.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from commands.base import ArgParser, Invocation, Reply, Subcommand, resolve_database
from commands.permissions import NotAllowed
from core.config import Config
from core.errors import UsageError

FREEZE_USAGE = "freeze [DB] --reason TEXT"
UNFREEZE_USAGE = "unfreeze [DB]"


@dataclass(frozen=True)
class FreezeCommand:
    database: str
    reason: str
    lift: bool = False


def _check_lead(inv: Invocation, database: str, verb: str) -> None:
    from jobs.approvals import is_approver, leads_text

    if is_approver(inv.cfg, database, inv.user, inv.directory):
        return
    db = inv.cfg.database(database)
    if not db.approvers and not db.approver_group:
        raise NotAllowed(
            f"nobody may {verb} '{database}'",
            detail=f"[databases.{database}] sets neither approvers nor approver_group; "
            "its leads are the ones who freeze it.",
            hint=f'Add approvers = ["U…"] or approver_group = "S…" under [databases.{database}].',
        )
    raise NotAllowed(
        f"only a lead of '{database}' may {verb} it",
        detail=f"Leads for {database} are {leads_text(inv.cfg, database)}.",
        hint="Ask one of them.",
    )


def build_freeze(p: ArgParser) -> None:
    p.add_argument("database", nargs="?")
    p.add_argument("--reason", "-r", default="")


def request_freeze(ns: argparse.Namespace, cfg: Config) -> FreezeCommand:
    database = resolve_database(cfg, ns.database, FREEZE_USAGE)
    reason = " ".join(ns.reason.split())
    if not reason:
        raise UsageError(
            "freeze needs --reason",
            detail="Everyone whose restore or prune is refused is told why the database is frozen.",
            hint=f'Usage: `/backup {FREEZE_USAGE}`, e.g. `/backup freeze {database} --reason "incident 42"`',
        )
    if len(reason) > 300:
        raise UsageError(
            "the reason is too long",
            detail=f"It has {len(reason)} characters; at most 300 are shown with every refusal.",
            hint="Say it in a sentence and link the incident.",
        )
    return FreezeCommand(database=database, reason=reason)


def handle_freeze(req: FreezeCommand, inv: Invocation) -> Reply:
    from jobs.freeze import freeze

    _check_lead(inv, req.database, "freeze")
    current, new = freeze(inv.store, req.database, inv.user, req.reason)
    if not new:
        return Reply(
            f":snowflake: `{req.database}` is already {current.describe()}. "
            f"Nothing changed; `/backup unfreeze {req.database}` ends it."
        )
    return Reply(
        f":snowflake: <@{inv.user}> froze `{req.database}`: restores and prunes of it are refused "
        f"until a lead runs `/backup unfreeze {req.database}`. Backups keep running. "
        f'Reason: "{current.shown_reason}"',
        ephemeral=False,
    )


def request_unfreeze(ns: argparse.Namespace, cfg: Config) -> FreezeCommand:
    return FreezeCommand(database=resolve_database(cfg, ns.database, UNFREEZE_USAGE), reason="", lift=True)


def build_unfreeze(p: ArgParser) -> None:
    p.add_argument("database", nargs="?")


def handle_unfreeze(req: FreezeCommand, inv: Invocation) -> Reply:
    from jobs.freeze import unfreeze

    _check_lead(inv, req.database, "unfreeze")
    lifted = unfreeze(inv.store, req.database, inv.user)
    if lifted is None:
        return Reply(f"`{req.database}` is not frozen; nothing changed.")
    return Reply(
        f":sunny: <@{inv.user}> unfroze `{req.database}` (it was {lifted.describe()}). "
        "Restores and prunes of it are allowed again.",
        ephemeral=False,
    )


SPEC = Subcommand(
    name="freeze",
    usage=FREEZE_USAGE,
    summary="leads: refuse restores and prunes of a database (backups keep running)",
    build=build_freeze,
    request=request_freeze,
    handle=handle_freeze,
    examples=('freeze prod --reason "incident 42: keep every backup"',),
)

UNFREEZE = Subcommand(
    name="unfreeze",
    usage=UNFREEZE_USAGE,
    summary="leads: end a database's freeze",
    build=build_unfreeze,
    request=request_unfreeze,
    handle=handle_unfreeze,
    examples=("unfreeze prod",),
)
