"""`/backup list [DB]`: the backups in the bucket, newest first.

The bucket is the source of truth, and reading it can take longer than Slack's 3-second
acknowledgement, so the reply says "looking" at once and the list follows.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from datetime import UTC, datetime

from commands.base import ArgParser, Invocation, Reply, Subcommand, resolve_database
from core.config import Config
from core.errors import BackupbotError
from core.slack_text import cut, escape

USAGE = "list [DB]"
SHOW = 15


@dataclass(frozen=True)
class ListRequest:
    database: str | None = None


def build(p: ArgParser) -> None:
    p.add_argument("database", nargs="?")


def request(ns: argparse.Namespace, cfg: Config) -> ListRequest:
    if ns.database is None:
        return ListRequest(None)
    return ListRequest(resolve_database(cfg, ns.database, USAGE))


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def _age(created: datetime) -> str:
    seconds = (datetime.now(UTC) - created).total_seconds()
    if seconds < 3600:
        return f"{max(0, int(seconds // 60))} min ago"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / 86400:.0f} days ago"


def render(req: ListRequest, inv: Invocation) -> Reply:
    from engine.catalog import list_backups

    try:
        backups = list_backups(inv.cfg, req.database)
    except BackupbotError as err:
        from commands.grammar import error_text

        return Reply(error_text(err))
    where = f"`{req.database}`" if req.database else "all databases"
    if not backups:
        scope = f"of `{req.database}`" if req.database else "in the bucket"
        return Reply(f"No backups {scope} yet. `/backup dump` takes one.")
    lines = [f"*Backups of {where}* ({len(backups)}, newest first)"]
    checked = _verified(inv, backups[:SHOW])
    for m in backups[:SHOW]:
        reason = f" — {escape(cut(m.reason, 200))}" if m.reason else ""
        lines.append(
            f"• `{escape(m.id)}` · {_size(m.stored_bytes)} · {_age(m.created_at)} · {escape(m.kind)}"
            f"{checked.get(m.id, '')}{reason}"
        )
    if len(backups) > SHOW:
        more = "" if req.database else "; `/backup list DB` shows one database"
        lines.append(f"… and {len(backups) - SHOW} older not shown here{more}.")
    return Reply("\n".join(lines))


def _verified(inv: Invocation, backups: list) -> dict[str, str]:  # type: ignore[type-arg]
    """ " · ✅ verified DAY" / " · ❌ VERIFY FAILED DAY" per backup whose verification is stored."""
    from adapters.storage import open_storage
    from engine import verify_record

    try:
        found = verify_record.outcomes(open_storage(inv.cfg.storage), backups)
    except BackupbotError:
        return {}
    return {bid: f" · {verify_record.icon(o)} {verify_record.mark(o)}" for bid, o in found.items()}


def handle(req: ListRequest, inv: Invocation) -> Reply:
    where = f"`{req.database}`" if req.database else "all databases"
    return Reply(f"Looking up backups of {where}…", later=lambda: render(req, inv))


SPEC = Subcommand(
    name="list",
    usage=USAGE,
    summary="backups in the bucket, newest first",
    build=build,
    request=request,
    handle=handle,
    examples=("list prod",),
)
