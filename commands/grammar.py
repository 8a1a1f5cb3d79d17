"""`/backup …` text → a subcommand and its typed request → a reply; never a traceback.

Words are split like a shell does (``--reason "before invoice import"``), after turning
the curly quotes Slack's clients type into straight ones. Anything a person typed
wrong comes back as a usage error with the nearest valid command; anything that
breaks inside a handler is logged and answered with a plain sentence.
"""

from __future__ import annotations

import difflib
import logging
import shlex

from commands.base import Invocation, Reply, Subcommand
from commands.permissions import check_allowed
from commands.registry import subcommands
from core.errors import BackupbotError, UsageError
from core.redact import redact

log = logging.getLogger(__name__)

_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'", "\u00a0": " "})


def tokenize(text: str) -> list[str]:
    try:
        return shlex.split(text.translate(_QUOTES))
    except ValueError as exc:
        raise UsageError(
            f"cannot read the command: {exc}",
            hint='Close the quote, e.g. `/backup dump prod --reason "why"`.',
        ) from None


def lookup(name: str) -> Subcommand:
    specs = subcommands()
    if name in specs:
        return specs[name]
    close = difflib.get_close_matches(name, list(specs), n=1, cutoff=0.5)
    suggestion = f"Did you mean `/backup {specs[close[0]].usage}`? " if close else ""
    raise UsageError(
        f"unknown command '{name}'",
        detail="Commands: " + ", ".join(f"`{s.name}`" for s in specs.values()) + ".",
        hint=suggestion + "`/backup help` shows how to use each.",
    )


def error_text(err: BackupbotError) -> str:
    """message / detail / hint as three short lines for Slack or a terminal."""
    lines = [f":warning: {redact(err.message)}"]
    if err.detail:
        lines.append(redact(err.detail))
    if err.hint:
        lines.append(redact(err.hint))
    return "\n".join(lines)


def dispatch(text: str, inv: Invocation) -> Reply:
    """Run one `/backup` command typed by ``inv.user`` in ``inv.channel``."""
    try:
        words = tokenize(text)
        spec = lookup(words[0].lower() if words else "help")
        if spec.needs_permission:
            check_allowed(inv.cfg.slack, inv.user, inv.channel, inv.directory)
        request = spec.parse(words[1:], inv.cfg)
        return spec.handle(request, inv)
    except BackupbotError as err:
        return Reply(error_text(err))
    except Exception:
        log.exception("/backup %s failed", redact(text))
        return Reply(
            ":warning: something went wrong handling that command.\nThe bot's log has the details; try again."
        )
