"""The pieces every subcommand shares: what a request arrives with, what it answers, how flags parse.

A subcommand is a ``Subcommand``: a name, a usage line, an argparse parser for its
words, a function from the parsed words to a typed request, and a handler from the
request to a ``Reply``. Surfaces (Slack, the console) never see argparse or the store:
they hand over text and an ``Invocation`` and render the ``Reply``.
"""

from __future__ import annotations

import argparse
import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.config import Config
from core.errors import UsageError
from jobs.events import Reporter
from jobs.queue import ahead_of, enqueue
from jobs.store import Store


@dataclass
class Invocation:
    """Who typed the command, where, and the services a handler may use."""

    user: str
    channel: str
    cfg: Config
    store: Store
    reporter: Reporter | None = None
    wake: Callable[[], None] = lambda: None
    directory: Any = None  # commands.permissions.GroupDirectory
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Reply:
    """An answer to the person who typed the command.

    ``later`` is work too slow for Slack's 3-second acknowledgement (listing the
    bucket): the surface shows ``text`` at once, runs ``later`` afterwards and shows
    its reply too.
    """

    text: str
    ephemeral: bool = True
    later: Callable[[], Reply] | None = None
    job_id: int | None = None


@dataclass(frozen=True)
class Subcommand:
    name: str
    usage: str  # after "/backup ", e.g. "dump [DB] [--reason TEXT]"
    summary: str
    build: Callable[[ArgParser], None]  # adds the subcommand's arguments
    request: Callable[[argparse.Namespace, Config], Any]  # parsed words → typed request
    handle: Callable[[Any, Invocation], Reply]
    needs_permission: bool = True
    examples: tuple[str, ...] = ()

    def parser(self) -> ArgParser:
        p = ArgParser(prog=f"/backup {self.name}", add_help=False, allow_abbrev=False)
        p.spec = self
        self.build(p)
        return p

    def parse(self, words: list[str], cfg: Config) -> Any:
        return self.request(self.parser().parse_args(words), cfg)


class ArgParser(argparse.ArgumentParser):
    """argparse that raises ``UsageError`` (with the nearest flag) instead of printing and exiting."""

    spec: Subcommand | None = None

    def _usage_line(self) -> str:
        return f"/backup {self.spec.usage}" if self.spec else self.prog

    def error(self, message: str) -> Any:  # type: ignore[override]
        hint = f"Usage: `{self._usage_line()}`"
        if message.startswith("unrecognized arguments:"):
            words = message.split(":", 1)[1].split()
            flags = [a for a in words if a.startswith("-")]
            known = [s for action in self._actions for s in action.option_strings]
            for word in flags:
                close = difflib.get_close_matches(word[:100], known, n=1)
                if close:
                    hint = f"Did you mean `{close[0]}`? " + hint
                    break
            message = f"unexpected {'option' if flags else 'word'} {' '.join(words)}"
        if len(message) > 200:
            message = message[:199] + "…"
        raise UsageError(f"{self._usage_line().split()[1]}: {message}", hint=hint)

    def exit(self, status: int = 0, message: str | None = None) -> Any:  # type: ignore[override]
        raise UsageError(message or "invalid command", hint=f"Usage: `{self._usage_line()}`")


def resolve_database(cfg: Config, name: str | None, usage: str) -> str:
    """The named database, or the only one configured; a usage error naming the choices otherwise."""
    known = sorted(cfg.databases)
    if name is None:
        if len(known) == 1:
            return known[0]
        raise UsageError(
            "which database?",
            detail=f"Configured databases: {', '.join(known) or 'none'}.",
            hint=f"Usage: `/backup {usage}`"
            + (f", e.g. `/backup {usage.split()[0]} {known[0]}`" if known else ""),
        )
    if name in cfg.databases:
        return name
    close = difflib.get_close_matches(name[:100], known, n=1)
    shown = name if len(name) <= 60 else name[:59] + "…"
    raise UsageError(
        f"unknown database '{shown}'",
        detail=f"Configured databases: {', '.join(known) or 'none'}.",
        hint=(f"Did you mean `{close[0]}`? " if close else "") + f"Usage: `/backup {usage}`",
    )


def parse_job_id(text: str) -> int:
    """Job numbers as people type them: 12, #12, job-12."""
    cleaned = text.strip().lstrip("#")
    if cleaned.lower().startswith("job"):
        cleaned = cleaned[3:].lstrip("-: ")
    if not (cleaned.isascii() and cleaned.isdigit()) or len(cleaned) > 30:
        shown = text if len(text) <= 30 else text[:29] + "…"
        raise argparse.ArgumentTypeError(f"'{shown}' is not a job number (e.g. 12)")
    return int(cleaned)  # past SQLite's int64 it is simply a job that does not exist


def queue_job(
    inv: Invocation, kind: str, database: str, params: dict[str, Any], what: str, lane: str | None = None
) -> Reply:
    """Enqueue a job for the person who typed the command and say where it stands in line.

    ``what`` completes "Queued {what} as job N", e.g. "a backup of `prod`"; ``lane``
    (default: the database) is what the job waits behind.
    """
    job = enqueue(
        inv.store,
        kind,
        database,
        params,
        requested_by=inv.user,
        channel=inv.channel,
        reporter=inv.reporter,
        lane=lane,
    )
    inv.wake()
    waiting = ahead_of(inv.store, job)
    behind = f", after job {waiting[-1].id}" if waiting else ""
    return Reply(f"Queued {what} as job {job.id}{behind}.", job_id=job.id)
