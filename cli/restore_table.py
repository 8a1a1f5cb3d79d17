"""``backupbot restore-table ID TABLE``: one table of a backup into a scratch database, for a person."""

from __future__ import annotations

import argparse

from cli.dump import add_json_flag
from cli.output import emit_json, print_fields
from core.config import load_config
from core.i18n import _, ngettext


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "restore-table",
        help=_("restore one table of a backup into a scratch database on the [verify] server"),
    )
    p.add_argument("backup_id", metavar="ID", help=_("backup id, unique prefix, or latest:<database>"))
    p.add_argument("table", metavar="TABLE", help=_("table or schema.table"))
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from engine.catalog import get_backup
    from engine.restore_table import copy_back_commands, restore_table
    from jobs.scratch_book import StoreScratchBook
    from jobs.store import Store

    cfg = load_config(args.config)
    manifest = get_backup(cfg, args.backup_id)
    result = restore_table(cfg, manifest, args.table, StoreScratchBook(Store.for_config(cfg)))
    commands = copy_back_commands(cfg, result)
    if args.json:
        emit_json(
            {
                "backup_id": result.backup_id,
                "table": result.table,
                "scratch_database": result.scratch_db,
                "server": result.server,
                "connect": f'psql "{result.conninfo}"',
                "rows": result.rows,
                "checksum": result.checksum,
                "expires_at": result.expires_at.isoformat(timespec="seconds"),
                "commands": commands,
            }
        )
        return 0
    print(
        ngettext(
            "Table {table} of {id}: {n} row in scratch database {scratch}",
            "Table {table} of {id}: {n} rows in scratch database {scratch}",
            result.rows,
        ).format(table=result.table, id=manifest.id, n=result.rows, scratch=result.scratch_db)
    )
    print_fields(
        [
            (_("Connect:"), f'psql "{result.conninfo}"'),
            (
                _("Dropped:"),
                _("after {time} UTC ([verify] scratch_ttl_hours)").format(
                    time=f"{result.expires_at:%Y-%m-%d %H:%M}"
                ),
            ),
        ]
    )
    print(_("Copy rows back by hand (into a side table first, then into the real one):"))
    for line in commands:
        print(f"  {line}")
    return 0
