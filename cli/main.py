"""Entry point of the ``backupbot`` command: one module per subcommand, each with ``register``.

Adding a subcommand is one new module in ``cli/`` plus one line in ``SUBCOMMANDS``.
Every failure a person can cause or meet is a ``BackupbotError`` and leaves with its
message / detail / hint and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import tomllib

from cli.output import emit_error
from core.argparse_text import ArgumentParser
from core.config_types import DEFAULT_CONFIG
from core.errors import BackupbotError
from core.i18n import SUPPORTED_LOCALES, _, set_locale
from core.redact import redact

log = logging.getLogger("backupbot")

SUBCOMMANDS = [
    "cli.keygen",
    "cli.dump",
    "cli.branch",
    "cli.list",
    "cli.show",
    "cli.decrypt",
    "cli.prune",
    "cli.restore",
    "cli.undo",
    "cli.where",
    "cli.files",
    "cli.doctor",
    "cli.verify",
    "cli.restore_table",
    "cli.state",
]


def _config_locale(argv: list[str]) -> str:
    """The ``[slack] locale`` of the config this command will read, looked up before parsing.

    Why before: the help texts and argparse's errors are built with the parser, before any
    subcommand loads the config (which sets the locale for the rest of the run). Only the one
    setting is read here; a missing, unreadable or invalid file leaves English, and the
    subcommand then reports the problem itself with the full config check.
    """
    path = ""
    for i, arg in enumerate(argv):
        if arg == "--config" and i + 1 < len(argv):
            path = argv[i + 1]
        elif arg.startswith("--config="):
            path = arg.split("=", 1)[1]
    path = path or os.environ.get("BACKUPBOT_CONFIG") or DEFAULT_CONFIG
    try:
        with open(path, "rb") as fh:
            slack = tomllib.load(fh).get("slack", {})
    except (OSError, tomllib.TOMLDecodeError, ValueError):
        return "en"
    code = slack.get("locale", "en") if isinstance(slack, dict) else "en"
    return code if code in SUPPORTED_LOCALES else "en"


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="backupbot", description=_("Encrypted PostgreSQL backups, restores and rotation.")
    )
    parser.add_argument(
        "--config", help=_("path to backupbot.toml (default: $BACKUPBOT_CONFIG or ./backupbot.toml)")
    )
    parser.add_argument("--json", action="store_true", help=_("machine-readable output on stdout"))
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in SUBCOMMANDS:
        importlib.import_module(name).register(sub)
    return parser


def _people_named(err: BackupbotError, args: argparse.Namespace) -> BackupbotError:
    """Errors written for Slack mention people as <@U…>; a terminal shows their names instead."""
    texts = (err.message, err.detail or "", err.hint or "")
    if not any("<@" in t for t in texts):
        return err
    from jobs.people import names_if_store, plain_mentions

    try:
        from core.config import load_config

        known = names_if_store(load_config(args.config))
    except Exception:  # the error at hand matters more than the names
        known = {}
    err.message = plain_mentions(err.message, known)
    err.detail = plain_mentions(err.detail, known) if err.detail else err.detail
    err.hint = plain_mentions(err.hint, known) if err.hint else err.hint
    return err


def main(argv: list[str] | None = None) -> int:
    set_locale(_config_locale(sys.argv[1:] if argv is None else argv))
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except BackupbotError as err:
        emit_error(_people_named(err, args), getattr(args, "json", False))
        return err.exit_code
    except KeyboardInterrupt:
        print(_("ERROR: interrupted; nothing was recorded for the unfinished operation."), file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `backupbot list | head`: the reader left; say nothing more and keep Python from
        # complaining again when it flushes stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except Exception as exc:  # noqa: BLE001 - the last line of defence against tracebacks in pipelines
        if os.environ.get("BACKUPBOT_DEBUG"):
            raise
        print(
            _("ERROR: unexpected failure: {error}").format(error=f"{type(exc).__name__}: {redact(str(exc))}"),
            file=sys.stderr,
        )
        print(_("HINT: run again with BACKUPBOT_DEBUG=1 for the traceback, and report it."), file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
