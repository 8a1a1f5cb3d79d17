"""`/backup history [DB] [--limit N]`: the audit trail, newest first, as sentences.

Answered from the bot's store (no bucket reads), so it comes back at once; ``--limit``
caps it at 100 lines so a reply stays well inside Slack's message size.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from commands.base import ArgParser, Invocation, Reply, Subcommand, resolve_database
from core.config import Config
from core.errors import UsageError
from core.i18n import N_, _, ngettext
from core.slack_text import escape

USAGE = "history [DB] [--limit N]"
DEFAULT_LIMIT = 20
MAX_LIMIT = 100


@dataclass(frozen=True)
class HistoryRequest:
    database: str | None
    limit: int


def build(p: ArgParser) -> None:
    p.add_argument("database", nargs="?")
    p.add_argument("--limit", "-n", default=str(DEFAULT_LIMIT))


def request(ns: argparse.Namespace, cfg: Config) -> HistoryRequest:
    database = resolve_database(cfg, ns.database, USAGE) if ns.database else None
    text = str(ns.limit).strip()
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise UsageError(
            _("--limit must be a number from 1 to {max}").format(max=MAX_LIMIT),
            detail=_("Got '{text}'.").format(text=text),
            hint=_("Usage: `{usage}`, e.g. `{example}`").format(
                usage=f"/backup {USAGE}", example="/backup history --limit 50"
            ),
        )
    return HistoryRequest(database=database, limit=int(text))


def _escape(text: str) -> str:
    return escape(text)


def _actor(actor: str) -> str:
    if actor and actor[0] in "UW" and actor.isalnum():
        return f"<@{actor}>"
    return _escape(actor)


def handle(req: HistoryRequest, inv: Invocation) -> Reply:
    from jobs.history import history

    entries = history(inv.store, req.database, req.limit)
    n = len(entries)
    if not entries:
        if req.database:
            return Reply(_("No history yet for `{db}`.").format(db=req.database))
        return Reply(_("No history yet for all databases."))
    if req.database:
        head = ngettext(
            "*History of `{db}`* (newest first, {n} shown)",
            "*History of `{db}`* (newest first, {n} shown)",
            n,
        ).format(db=req.database, n=n)
    else:
        head = ngettext(
            "*History of all databases* (newest first, {n} shown)",
            "*History of all databases* (newest first, {n} shown)",
            n,
        ).format(n=n)
    lines = [head]
    for e in entries:
        job = (
            _("job {job}").format(job=e.job_id)
            if e.job_id is not None
            else (f"`{e.database}`" if e.database else "-")
        )
        who = f"{_actor(e.actor)} " if e.actor else ""
        lines.append(f"• {e.when} · {job} · {who}{_escape(e.what)}")
    if len(entries) == req.limit < MAX_LIMIT:
        older = f"/backup history{' ' + req.database if req.database else ''} --limit {MAX_LIMIT}"
        lines.append(_("Older entries: `{command}`.").format(command=older))
    return Reply("\n".join(lines))


SPEC = Subcommand(
    name="history",
    usage=USAGE,
    summary=N_("the audit trail, newest first: who asked, who approved or denied, how it ended"),
    build=build,
    request=request,
    handle=handle,
    examples=("history", "history prod --limit 50"),
)
