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

from cli.output import emit_error
from core.errors import BackupbotError
from core.redact import redact

log = logging.getLogger("backupbot")

SUBCOMMANDS = [
    "cli.keygen",
    "cli.dump",
    "cli.list",
    "cli.show",
    "cli.decrypt",
    "cli.prune",
    "cli.restore",
    "cli.where",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="backupbot", description="Encrypted PostgreSQL backups, restores and rotation."
    )
    parser.add_argument(
        "--config", help="path to backupbot.toml (default: $BACKUPBOT_CONFIG or ./backupbot.toml)"
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in SUBCOMMANDS:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except BackupbotError as err:
        emit_error(err, getattr(args, "json", False))
        return err.exit_code
    except KeyboardInterrupt:
        print("ERROR: interrupted; nothing was recorded for the unfinished operation.", file=sys.stderr)
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
        print(f"ERROR: unexpected failure: {type(exc).__name__}: {redact(str(exc))}", file=sys.stderr)
        print("HINT: run again with BACKUPBOT_DEBUG=1 for the traceback, and report it.", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
