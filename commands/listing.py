"""`/backup list [DB] [--page N]`: the backups in the bucket, newest first, 15 a page.

The bucket is the source of truth, and reading it can take longer than Slack's 3-second
acknowledgement, so the reply says "looking" at once and the list follows. A team with
thousands of backups gets a page and the command for the next one, not a wall of text.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from datetime import UTC, datetime

from commands.base import ArgParser, Invocation, Reply, Subcommand, resolve_database
from core.config import Config
from core.errors import BackupbotError, UsageError
from core.i18n import N_, _, ngettext
from core.slack_text import cut, escape

USAGE = "list [DB] [--page N]"
SHOW = 15


@dataclass(frozen=True)
class ListRequest:
    database: str | None = None
    page: int = 1


def build(p: ArgParser) -> None:
    p.add_argument("database", nargs="?")
    p.add_argument("--page", default="1")


def request(ns: argparse.Namespace, cfg: Config) -> ListRequest:
    page = str(ns.page).strip()
    if not page.isdigit() or int(page) < 1:
        raise UsageError(
            _("list: --page must be a whole number from 1, not '{page}'").format(page=page[:20]),
            hint=_("Usage: `{usage}`, e.g. `{example}`").format(
                usage="/backup list [DB] [--page N]", example="/backup list prod --page 2"
            )
            + ".",
        )
    if ns.database is None:
        return ListRequest(None, int(page))
    return ListRequest(resolve_database(cfg, ns.database, USAGE), int(page))


def _command(req: ListRequest, page: int) -> str:
    return "/backup list" + (f" {req.database}" if req.database else "") + f" --page {page}"


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def _age(created: datetime) -> str:
    seconds = (datetime.now(UTC) - created).total_seconds()
    if seconds < 3600:
        return _("{n} min ago").format(n=max(0, int(seconds // 60)))
    if seconds < 172800:
        return _("{n} h ago").format(n=f"{seconds / 3600:.0f}")
    return _("{n} days ago").format(n=f"{seconds / 86400:.0f}")


def render(req: ListRequest, inv: Invocation) -> Reply:
    from engine.catalog import list_backups

    try:
        backups = list_backups(inv.cfg, req.database)
    except BackupbotError as err:
        from commands.grammar import error_text

        return Reply(error_text(err))
    db = req.database
    if not backups:
        if db:
            return Reply(_("No backups of `{db}` yet. `/backup dump` takes one.").format(db=db))
        return Reply(_("No backups in the bucket yet. `/backup dump` takes one."))
    pages = (len(backups) + SHOW - 1) // SHOW
    total = f"{len(backups):,}"
    if req.page > pages:
        oldest = _("The oldest are on `{command}`.").format(command=_command(req, pages))
        if db:
            there = ngettext(
                "There is no page {page}: {total} backups of `{db}` fill {pages} page(s).",
                "There is no page {page}: {total} backups of `{db}` fill {pages} page(s).",
                pages,
            ).format(page=req.page, total=total, db=db, pages=pages)
        else:
            there = ngettext(
                "There is no page {page}: {total} backups of all databases fill {pages} page(s).",
                "There is no page {page}: {total} backups of all databases fill {pages} page(s).",
                pages,
            ).format(page=req.page, total=total, pages=pages)
        return Reply(f"{there}\n{oldest}")
    start = (req.page - 1) * SHOW
    shown = backups[start : start + SHOW]
    if len(backups) <= SHOW:
        lines = [
            _("*Backups of `{db}`* ({count}, newest first)").format(db=db, count=len(backups))
            if db
            else _("*Backups of all databases* ({count}, newest first)").format(count=len(backups))
        ]
    else:
        span = {"first": f"{start + 1:,}", "last": f"{start + len(shown):,}", "total": total}
        lines = [
            _("*Backups of `{db}`*: {first}–{last} of {total}, newest first").format(db=db, **span)
            if db
            else _("*Backups of all databases*: {first}–{last} of {total}, newest first").format(**span)
        ]
    checked = _verified(inv, shown)
    for m in shown:
        reason = f" — {escape(cut(m.reason, 200))}" if m.reason else ""
        lines.append(
            f"• `{escape(m.id)}` · {_size(m.stored_bytes)} · {_age(m.created_at)} · {escape(m.kind)}"
            f"{checked.get(m.id, '')}{reason}"
        )
    if req.page < pages:
        lines.append(
            _("{shown} of {total} — `{command}` shows the next {next} older.").format(
                shown=len(shown),
                total=total,
                command=_command(req, req.page + 1),
                next=min(SHOW, len(backups) - start - len(shown)),
            )
        )
    return Reply("\n".join(lines))


def _verified(inv: Invocation, backups: list) -> dict[str, str]:  # type: ignore[type-arg]
    """ " · ✅ verified DAY" / " · ❌ VERIFY FAILED DAY" per backup whose verification is stored."""
    from adapters.storage import open_storage
    from engine import verify_record
    from engine.manifest_cache import ManifestCache

    try:
        found = verify_record.outcomes(
            open_storage(inv.cfg.storage), backups, ManifestCache.for_config(inv.cfg)
        )
    except BackupbotError:
        return {}
    return {bid: f" · {verify_record.icon(o)} {verify_record.mark(o)}" for bid, o in found.items()}


def handle(req: ListRequest, inv: Invocation) -> Reply:
    text = (
        _("Looking up backups of `{db}`…").format(db=req.database)
        if req.database
        else _("Looking up backups of all databases…")
    )
    return Reply(text, later=lambda: render(req, inv))


SPEC = Subcommand(
    name="list",
    usage=USAGE,
    summary=N_("backups in the bucket, newest first"),
    build=build,
    request=request,
    handle=handle,
    examples=("list prod", "list prod --page 2"),
)
