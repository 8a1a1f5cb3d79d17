"""argparse in the team's language: its sentences, its "usage:", its section titles.

argparse builds its words with its own gettext domain, which no catalog of ours fills. The
sentences a person can meet (a missing or unknown argument, a bad choice) are recognised by
their English form and said again through our catalogs; the CLI's parser also asks for its
"usage:" and section titles through them. The Slack commands (commands/base.py) and the
``backupbot`` command (cli/main.py) share this, so a mistyped command reads the same in both.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from typing import Any, NoReturn

from core.i18n import _

# argparse builds its sentences in English (its own gettext domain, which no catalog of ours
# fills); the ones a person can meet here are recognised by their English form and said again
# in the team's language. Anything else keeps argparse's words.
_ARGPARSE: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (
        re.compile(r"the following arguments are required: (?P<names>.+)"),
        lambda m: _("the following arguments are required: {names}").format(names=m["names"]),
    ),
    (
        re.compile(r"argument (?P<name>\S+): invalid choice: (?P<value>.+) \(choose from (?P<choices>.+)\)"),
        lambda m: _("argument {name}: invalid choice: {value} (choose from {choices})").format(
            name=m["name"], value=m["value"], choices=m["choices"]
        ),
    ),
    (
        re.compile(r"argument (?P<name>\S+): expected one argument"),
        lambda m: _("argument {name}: expected one argument").format(name=m["name"]),
    ),
    (
        re.compile(r"argument (?P<name>\S+): ignored explicit argument (?P<value>.+)"),
        lambda m: _("argument {name}: ignored explicit argument {value}").format(
            name=m["name"], value=m["value"]
        ),
    ),
    (
        re.compile(r"unrecognized arguments: (?P<words>.+)"),
        lambda m: _("unrecognized arguments: {words}").format(words=m["words"]),
    ),
    (  # an ArgumentTypeError of ours (parse_job_id): its message is already translated
        re.compile(r"argument (?P<name>\S+): (?P<message>.+)", re.S),
        lambda m: _("argument {name}: {message}").format(name=m["name"], message=m["message"]),
    ),
]


def argparse_text(message: str) -> str:
    """argparse's English sentence in the current language (unchanged where none matches)."""
    for pattern, say in _ARGPARSE:
        match = pattern.fullmatch(message)
        if match:
            return say(match)
    return message


class HelpFormatter(argparse.HelpFormatter):
    def add_usage(self, usage: Any, actions: Any, groups: Any, prefix: str | None = None) -> None:
        super().add_usage(usage, actions, groups, prefix=_("usage: ") if prefix is None else prefix)


class ArgumentParser(argparse.ArgumentParser):
    """argparse.ArgumentParser whose own words (usage, titles, -h, errors) are ours to translate."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        add_help = kwargs.pop("add_help", True)
        super().__init__(*args, add_help=False, **kwargs)
        self._positionals.title = _("positional arguments")
        self._optionals.title = _("options")
        if add_help:
            self.add_argument("-h", "--help", action="help", help=_("show this help message and exit"))

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(
            2, _("{prog}: error: {message}").format(prog=self.prog, message=argparse_text(message)) + "\n"
        )
