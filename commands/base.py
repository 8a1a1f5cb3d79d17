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

from core.argparse_text import argparse_text
from core.config import Config
from core.errors import UsageError
from core.i18n import _
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
    usage: str  # after "/backup ", e.g. "dump [DB] [--reason TEXT]" (syntax: never translated)
    summary: str  # marked with N_() where the spec is built; help shows _(summary)
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


def usage_hint(usage: str) -> str:
    """``Usage: `/backup …` `` — the command stays as typed in every language."""
    return _("Usage: `{usage}`").format(usage=usage)


def did_you_mean(word: str) -> str:
    """``Did you mean `word`? `` — the start of a hint, followed by another sentence."""
    return _("Did you mean `{word}`?").format(word=word) + " "


class ArgParser(argparse.ArgumentParser):
    """argparse that raises ``UsageError`` (with the nearest flag) instead of printing and exiting."""

    spec: Subcommand | None = None

    def _usage_line(self) -> str:
        return f"/backup {self.spec.usage}" if self.spec else self.prog

    def error(self, message: str) -> Any:  # type: ignore[override]
        hint = usage_hint(self._usage_line())
        if message.startswith("unrecognized arguments:"):
            words = message.split(":", 1)[1].split()
            flags = [a for a in words if a.startswith("-")]
            known = [s for action in self._actions for s in action.option_strings]
            for word in flags:
                close = difflib.get_close_matches(word[:100], known, n=1)
                if close:
                    hint = did_you_mean(close[0]) + hint
                    break
            shown = " ".join(words)
            message = (
                _("unexpected option {words}").format(words=shown)
                if flags
                else _("unexpected word {words}").format(words=shown)
            )
        else:
            message = argparse_text(message)
        if len(message) > 200:
            message = message[:199] + "…"
        command = self._usage_line().split()[1]
        raise UsageError(_("{command}: {message}").format(command=command, message=message), hint=hint)

    def exit(self, status: int = 0, message: str | None = None) -> Any:  # type: ignore[override]
        raise UsageError(message or _("invalid command"), hint=usage_hint(self._usage_line()))


def _configured(known: list[str]) -> str:
    names = ", ".join(known)
    if not names:
        return _("No database is configured.")
    return _("Configured databases: {names}.").format(names=names)


def resolve_database(cfg: Config, name: str | None, usage: str) -> str:
    """The named database, or the only one configured; a usage error naming the choices otherwise."""
    known = sorted(cfg.databases)
    if name is None:
        if len(known) == 1:
            return known[0]
        hint = usage_hint(f"/backup {usage}")
        if known:
            example = f"/backup {usage.split()[0]} {known[0]}"
            hint = _("Usage: `{usage}`, e.g. `{example}`").format(usage=f"/backup {usage}", example=example)
        raise UsageError(_("which database?"), detail=_configured(known), hint=hint)
    if name in cfg.databases:
        return name
    close = difflib.get_close_matches(name[:100], known, n=1)
    shown = name if len(name) <= 60 else name[:59] + "…"
    raise UsageError(
        _("unknown database '{name}'").format(name=shown),
        detail=_configured(known),
        hint=(did_you_mean(close[0]) if close else "") + usage_hint(f"/backup {usage}"),
    )


def parse_job_id(text: str) -> int:
    """Job numbers as people type them: 12, #12, job-12."""
    cleaned = text.strip().lstrip("#")
    if cleaned.lower().startswith("job"):
        cleaned = cleaned[3:].lstrip("-: ")
    if not (cleaned.isascii() and cleaned.isdigit()) or len(cleaned) > 30:
        shown = text if len(text) <= 30 else text[:29] + "…"
        raise argparse.ArgumentTypeError(_("'{text}' is not a job number (e.g. 12)").format(text=shown))
    return int(cleaned)  # past SQLite's int64 it is simply a job that does not exist


def queued_reply(inv: Invocation, job: Any, said: Callable[[int], str]) -> Reply:
    """The answer to a command that queued ``job``: ``said(job id)``, and the job it waits for."""
    waiting = ahead_of(inv.store, job)
    text = said(job.id)
    if waiting:
        text += " " + _("It starts after job {job}.").format(job=waiting[-1].id)
    return Reply(text, job_id=job.id)


def queue_job(
    inv: Invocation,
    kind: str,
    database: str,
    params: dict[str, Any],
    said: Callable[[int], str],
    lane: str | None = None,
) -> Reply:
    """Enqueue a job for the person who typed the command and say where it stands in line.

    ``said`` turns the job's number into the whole sentence, e.g.
    ``lambda job: _("Queued a backup of `{db}` as job {job}.").format(db=db, job=job)``: a
    sentence translated whole, since word order differs between languages. ``lane``
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
    return queued_reply(inv, job, said)
