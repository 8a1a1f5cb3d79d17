"""`/backup branches [DB]`: the Neon backup branches and snapshots, rebuilt from Neon alone.

Who made each branch and why is read from the branch's own annotation, so the list is
the same whichever bot, pipeline or restore made it; reading Neon can take longer than
Slack's 3 seconds, so the list follows a "looking" reply.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from datetime import UTC, datetime

from commands.base import ArgParser, Invocation, Reply, Subcommand
from commands.branch import neon_database
from core.config import Config
from core.errors import BackupbotError
from core.i18n import N_, _
from core.slack_text import escape
from core.units import human_bytes

USAGE = "branches [DB]"
SHOW = 20


@dataclass(frozen=True)
class BranchesRequest:
    database: str


def build(p: ArgParser) -> None:
    p.add_argument("database", nargs="?")


def request(ns: argparse.Namespace, cfg: Config) -> BranchesRequest:
    return BranchesRequest(neon_database(cfg, ns.database, USAGE))


def age(created: datetime, now: datetime | None = None) -> str:
    seconds = ((now or datetime.now(UTC)) - created).total_seconds()
    if seconds < 3600:
        return _("{n} min old").format(n=max(0, int(seconds // 60)))
    if seconds < 172800:
        return _("{n} h old").format(n=f"{seconds / 3600:.0f}")
    return _("{n} days old").format(n=f"{seconds / 86400:.0f}")


def plain(text: str) -> str:
    """Text a person or pipeline wrote, shown as text: no mentions, links or code spans in Slack."""
    return escape(text).replace("`", "'")


def render_listing(listing: object) -> list[str]:
    from engine.neon_branches import BranchListing

    assert isinstance(listing, BranchListing)
    own = listing.own_branch
    lines = [
        _(
            "*Neon backup branches of `{db}`* (project `{project}`, its branch `{branch}`; {count}, newest first)"
        ).format(
            db=listing.database, project=listing.project_id, branch=own["name"], count=len(listing.backups)
        )
    ]
    for b in listing.backups[:SHOW]:
        by = (
            f"<@{b.requested_by}>"
            if b.requested_by.isalnum() and b.requested_by[:1] in "UW"
            else plain(b.requested_by)
        )
        who = (
            _("by {who}").format(who=by)
            if b.requested_by
            else (_("made by a restore") if b.preserved else _("by {who}").format(who="?"))
        )
        why = f" — {plain(b.reason)}" if b.reason else ""
        expiry = (
            _("expires {at}").format(at=b.expires_at[:16].replace("T", " "))
            if b.expires_at
            else _("kept (no expiry)")
        )
        source = _("from `{parent}` at {point}").format(
            parent=b.parent_name or b.parent_id or "-", point=b.point_in_time
        )
        lines.append(
            f"• `{plain(b.name)}` · {age(b.created_at)} · {source} · {human_bytes(b.size_bytes)} · "
            f"`{plain(b.kind or '?')}` {who}{why} · {expiry}"
        )
    if len(listing.backups) > SHOW:
        lines.append(
            _("… and {n} older; `backupbot branches` lists all.").format(n=len(listing.backups) - SHOW)
        )
    if not listing.backups:
        lines.append(
            _("No backup branches yet. `/backup branch {db}` makes one.").format(db=listing.database)
        )
    if listing.snapshots:
        lines.append(_("*Neon snapshots* ({count})").format(count=len(listing.snapshots)))
        for s in listing.snapshots[:SHOW]:
            size = f" · {human_bytes(s['full_size'])}" if s.get("full_size") else ""
            taken = _("taken {at}").format(at=s.get("timestamp") or s["created_at"])
            lines.append(f"• `{plain(s['name'])}` · {taken}{size}")
    return lines


def render(req: BranchesRequest, inv: Invocation) -> Reply:
    from commands.grammar import error_text
    from engine.neon_branches import list_backup_branches

    try:
        listing = list_backup_branches(inv.cfg, req.database)
    except BackupbotError as err:
        return Reply(error_text(err))
    return Reply("\n".join(render_listing(listing)))


def handle(req: BranchesRequest, inv: Invocation) -> Reply:
    return Reply(
        _("Looking up Neon backup branches of `{db}`…").format(db=req.database),
        later=lambda: render(req, inv),
    )


SPEC = Subcommand(
    name="branches",
    usage=USAGE,
    summary=N_("Neon backup branches (who, why, expiry) and snapshots"),
    build=build,
    request=request,
    handle=handle,
    examples=("branches prod",),
)
