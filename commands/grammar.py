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

from commands.base import Invocation, Reply, Subcommand, did_you_mean
from commands.permissions import check_allowed
from commands.registry import subcommands
from core.errors import BackupbotError, UsageError
from core.i18n import _
from core.redact import redact
from core.slack_text import COMMAND_TEXT, chat_commands, cut, escape

log = logging.getLogger(__name__)

_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'", "\u00a0": " "})


def tokenize(text: str) -> list[str]:
    try:
        return shlex.split(text.translate(_QUOTES))
    except ValueError as exc:
        raise UsageError(
            _("cannot read the command: {problem}").format(problem=_shlex_problem(str(exc))),
            hint=_('Close the quote, e.g. `/backup dump prod --reason "why"`.'),
        ) from None


def _shlex_problem(problem: str) -> str:
    """shlex's two complaints ("No closing quotation", "No escaped character") in the team's language."""
    if problem == "No closing quotation":
        return _("No closing quotation")
    if problem == "No escaped character":
        return _("No escaped character")
    return problem


def lookup(name: str) -> Subcommand:
    specs = subcommands()
    if name in specs:
        return specs[name]
    close = difflib.get_close_matches(name[:40], list(specs), n=1, cutoff=0.5)
    suggestion = did_you_mean(f"/backup {specs[close[0]].usage}") if close else ""
    names = ", ".join(f"`{s.name}`" for s in specs.values())
    raise UsageError(
        _("unknown command '{name}'").format(name=cut(name, 40)),
        detail=_("Commands: {names}.").format(names=names),
        hint=suggestion + _("`/backup help` shows how to use each."),
    )


def error_text(err: BackupbotError) -> str:
    """message / detail / hint as three short lines for Slack or a terminal.

    Errors repeat what was typed or what a tool printed, so their text is escaped;
    an error built from the bot's own markup (``slack_safe``) is shown as it is.
    """
    show = redact if getattr(err, "slack_safe", False) else (lambda s: escape(redact(s)))
    lines = [f":warning: {show(err.message)}"]
    if err.detail:
        lines.append(show(err.detail))
    if err.hint:
        lines.append(chat_commands(show(err.hint)))
    return "\n".join(lines)


def _open_commands() -> frozenset[str]:
    return frozenset(name for name, spec in subcommands().items() if not spec.needs_permission)


def _too_long(text: str) -> UsageError:
    return UsageError(
        _("that command is too long"),
        detail=_("It has {count} characters; a `/backup` command is at most {limit}.").format(
            count=f"{len(text):,}", limit=f"{COMMAND_TEXT:,}"
        ),
        hint=_("Shorten the --reason; `/backup help` shows each command."),
    )


def dispatch(text: str, inv: Invocation) -> Reply:
    """Run one `/backup` command typed by ``inv.user`` in ``inv.channel``."""
    try:
        # Cheap checks first, before any parsing: the length, then who is asking.
        if len(text) > COMMAND_TEXT:
            raise _too_long(text)
        first = text.split(None, 1)[0].lower() if text.strip() else "help"
        if first not in _open_commands():
            check_allowed(inv.cfg.slack, inv.user, inv.channel, inv.directory)
        words = tokenize(text)
        spec = lookup(words[0].lower() if words else "help")
        if spec.needs_permission and first != spec.name:
            check_allowed(inv.cfg.slack, inv.user, inv.channel, inv.directory)
        request = spec.parse(words[1:], inv.cfg)
        return spec.handle(request, inv)
    except BackupbotError as err:
        return Reply(error_text(err))
    except Exception:
        log.exception("/backup %s failed", redact(cut(text, 200)))
        return Reply(
            ":warning: "
            + _("something went wrong handling that command.\nThe bot's log has the details; try again.")
        )
