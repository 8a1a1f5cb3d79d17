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
from core.i18n import N_, _

FREEZE_USAGE = "freeze [DB] --reason TEXT"
UNFREEZE_USAGE = "unfreeze [DB]"


@dataclass(frozen=True)
class FreezeCommand:
    database: str
    reason: str
    lift: bool = False


def _check_lead(inv: Invocation, database: str, lift: bool) -> None:
    """Only the database's leads freeze or unfreeze it (``lift``: unfreeze)."""
    from jobs.approvals import is_approver, leads_text

    if is_approver(inv.cfg, database, inv.user, inv.directory):
        return
    db = inv.cfg.database(database)
    if not db.approvers and not db.approver_group:
        raise NotAllowed(
            (_("nobody may unfreeze '{db}'") if lift else _("nobody may freeze '{db}'")).format(db=database),
            detail=_(
                "[databases.{db}] sets neither approvers nor approver_group; "
                "its leads are the ones who freeze it."
            ).format(db=database),
            hint=_('Add approvers = ["U…"] or approver_group = "S…" under [databases.{db}].').format(
                db=database
            ),
        )
    raise NotAllowed(
        (
            _("only a lead of '{db}' may unfreeze it") if lift else _("only a lead of '{db}' may freeze it")
        ).format(db=database),
        detail=_("Leads for {db} are {leads}.").format(db=database, leads=leads_text(inv.cfg, database)),
        hint=_("Ask one of them."),
    )


def build_freeze(p: ArgParser) -> None:
    p.add_argument("database", nargs="?")
    p.add_argument("--reason", "-r", default="")


def request_freeze(ns: argparse.Namespace, cfg: Config) -> FreezeCommand:
    database = resolve_database(cfg, ns.database, FREEZE_USAGE)
    reason = " ".join(ns.reason.split())
    if not reason:
        raise UsageError(
            _("freeze needs --reason"),
            detail=_("Everyone whose restore or prune is refused is told why the database is frozen."),
            hint=_("Usage: `{usage}`, e.g. `{example}`").format(
                usage=f"/backup {FREEZE_USAGE}", example=f'/backup freeze {database} --reason "incident 42"'
            ),
        )
    if len(reason) > 300:
        raise UsageError(
            _("the reason is too long"),
            detail=_("It has {count} characters; at most 300 are shown with every refusal.").format(
                count=len(reason)
            ),
            hint=_("Say it in a sentence and link the incident."),
        )
    return FreezeCommand(database=database, reason=reason)


def handle_freeze(req: FreezeCommand, inv: Invocation) -> Reply:
    from jobs.freeze import freeze

    _check_lead(inv, req.database, lift=False)
    current, new = freeze(inv.store, req.database, inv.user, req.reason)
    if not new:
        return Reply(
            ":snowflake: "
            + _("`{db}` is already {state}. Nothing changed; `/backup unfreeze {db}` ends it.").format(
                db=req.database, state=current.describe()
            )
        )
    return Reply(
        ":snowflake: "
        + _(
            "<@{user}> froze `{db}`: restores and prunes of it are refused until a lead runs "
            '`/backup unfreeze {db}`. Backups keep running. Reason: "{reason}"'
        ).format(user=inv.user, db=req.database, reason=current.shown_reason),
        ephemeral=False,
    )


def request_unfreeze(ns: argparse.Namespace, cfg: Config) -> FreezeCommand:
    return FreezeCommand(database=resolve_database(cfg, ns.database, UNFREEZE_USAGE), reason="", lift=True)


def build_unfreeze(p: ArgParser) -> None:
    p.add_argument("database", nargs="?")


def handle_unfreeze(req: FreezeCommand, inv: Invocation) -> Reply:
    from jobs.freeze import unfreeze

    _check_lead(inv, req.database, lift=True)
    lifted = unfreeze(inv.store, req.database, inv.user)
    if lifted is None:
        return Reply(_("`{db}` is not frozen; nothing changed.").format(db=req.database))
    return Reply(
        ":sunny: "
        + _("<@{user}> unfroze `{db}` (it was {state}). Restores and prunes of it are allowed again.").format(
            user=inv.user, db=req.database, state=lifted.describe()
        ),
        ephemeral=False,
    )


SPEC = Subcommand(
    name="freeze",
    usage=FREEZE_USAGE,
    summary=N_("leads: refuse restores and prunes of a database (backups keep running)"),
    build=build_freeze,
    request=request_freeze,
    handle=handle_freeze,
    examples=('freeze prod --reason "incident 42: keep every backup"',),
)

UNFREEZE = Subcommand(
    name="unfreeze",
    usage=UNFREEZE_USAGE,
    summary=N_("leads: end a database's freeze"),
    build=build_unfreeze,
    request=request_unfreeze,
    handle=handle_unfreeze,
    examples=("unfreeze prod",),
)
