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
            f"--limit must be a number from 1 to {MAX_LIMIT}",
            detail=f"Got '{text}'.",
            hint=f"Usage: `/backup {USAGE}`, e.g. `/backup history --limit 50`",
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
    scope = f"`{req.database}`" if req.database else "all databases"
    if not entries:
        return Reply(f"No history yet for {scope}.")
    lines = [f"*History of {scope}* (newest first, {len(entries)} shown)"]
    for e in entries:
        job = f"job {e.job_id}" if e.job_id is not None else (f"`{e.database}`" if e.database else "-")
        who = f"{_actor(e.actor)} " if e.actor else ""
        lines.append(f"• {e.when} · {job} · {who}{_escape(e.what)}")
    if len(entries) == req.limit < MAX_LIMIT:
        lines.append(f"Older entries: `/backup history{' ' + req.database if req.database else ''} --limit {MAX_LIMIT}`.")
    return Reply("\n".join(lines))


SPEC = Subcommand(
    name="history",
    usage=USAGE,
    summary="the audit trail, newest first: who asked, who approved or denied, how it ended",
    build=build,
    request=request,
    handle=handle,
    examples=("history", "history prod --limit 50"),
)
