"""``backupbot state import|export``: move the bot's state between its SQLite file and PostgreSQL.

``import`` copies the SQLite file (the state directory's, or ``--from``) into the
PostgreSQL state named by BACKUPBOT_STATE_URL; ``export`` copies that PostgreSQL state
into a SQLite file (``--to``, default the state directory's). Both refuse a destination
that already holds rows, so nothing is ever overwritten or mixed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cli.output import emit_json
from core.config import load_config
from core.errors import UsageError
from core.i18n import _, ngettext
from jobs.state_copy import copy_state
from jobs.store import DB_FILE, Store, state_url


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("state", help=_("copy the bot's state between SQLite and PostgreSQL"))
    ops = p.add_subparsers(dest="state_command", metavar="import|export")
    ops.required = True
    imp = ops.add_parser(
        "import", help=_("copy a SQLite state file into the PostgreSQL state (BACKUPBOT_STATE_URL)")
    )
    imp.add_argument(
        "--from", dest="path", help=_("the SQLite file (default: STATE_DIR/{file})").format(file=DB_FILE)
    )
    imp.set_defaults(func=run)
    exp = ops.add_parser(
        "export", help=_("copy the PostgreSQL state (BACKUPBOT_STATE_URL) into a SQLite file")
    )
    exp.add_argument(
        "--to",
        dest="path",
        help=_("the SQLite file to create (default: STATE_DIR/{file})").format(file=DB_FILE),
    )
    exp.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    url = state_url(cfg)
    if not url:
        raise UsageError(
            _("`backupbot state {command}` needs the PostgreSQL state's URL").format(
                command=args.state_command
            ),
            detail=_("{env} is not set, so there is no PostgreSQL state to copy to or from.").format(
                env=cfg.state.url_env
            ),
            hint=_("Set {env}=postgresql://user:password@host/dbname and run it again.").format(
                env=cfg.state.url_env
            ),
        )
    path = Path(args.path) if args.path else Path(cfg.state_dir) / DB_FILE
    if args.state_command == "import" and not path.is_file():
        raise UsageError(
            _("there is no SQLite state at {path}").format(path=path),
            detail=_("Nothing was copied."),
            hint=_(
                "Pass the file with --from PATH (the bot keeps it in its state directory as {file})."
            ).format(file=DB_FILE),
        )
    pg = Store(path, url=url, schema=cfg.state.schema)
    sqlite = Store(path, url="")
    try:
        source, dest = (sqlite, pg) if args.state_command == "import" else (pg, sqlite)
        counts = copy_state(source, dest)
    finally:
        pg.close()
        sqlite.close()
    if args.json:
        emit_json({"from": source.describe(), "to": dest.describe(), "rows": counts})
        return 0
    print(
        _("copied the state from {source} to {dest}:").format(source=source.describe(), dest=dest.describe())
    )
    for name, n in sorted(counts.items()):
        print(f"  {name:<24} " + ngettext("{n} row", "{n} rows", n).format(n=n))
    return 0
