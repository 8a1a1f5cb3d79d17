"""``backupbot show ID``: one backup's manifest — versions, sizes, key id, migration head."""

from __future__ import annotations

import argparse

from cli.dump import add_json_flag
from cli.output import emit_json, human_size, print_fields
from core.config import load_config
from core.i18n import _
from engine.catalog import get_backup
from jobs.people import display, names_if_store


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("show", help=_("show a backup's manifest (id, unique prefix or latest:<db>)"))
    p.add_argument("backup_id", metavar="ID", help=_("backup id, unique prefix, or latest:<database>"))
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    m = get_backup(cfg, args.backup_id)
    data = m.to_dict()
    if args.json:
        emit_json(data)
        return 0
    head = m.migration_head or {}
    print_fields(
        [
            (_("id"), m.id),
            (_("database"), f"{m.database} ({m.source})"),
            (_("kind"), m.kind),
            (_("created"), data["created_at"]),
            (_("requested by"), display(m.requested_by, names_if_store(cfg))),
            (_("reason"), m.reason or "-"),
            (_("git sha"), m.git_sha or "-"),
            (_("server / pg_dump"), f"{m.server_version} / {m.pg_dump_version}"),
            (_("tables"), str(m.table_count)),
            (_("migration head"), str(head.get("name") or "-")),
            (_("dump size"), _("{size} ({n} bytes)").format(size=human_size(m.dump_bytes), n=m.dump_bytes)),
            (
                _("stored size"),
                _("{size} ({n} bytes)").format(size=human_size(m.stored_bytes), n=m.stored_bytes),
            ),
            ("sha256", m.sha256),
            (
                _("encryption"),
                _("{algorithm} key id {key_id}").format(
                    algorithm=m.encryption.get("algorithm"), key_id=m.key_id
                ),
            ),
            (
                _("compression"),
                _("{algorithm} level {level}").format(
                    algorithm=m.compression.get("algorithm"), level=m.compression.get("level")
                ),
            ),
            (_("duration"), f"{m.duration_seconds:.1f} s"),
            (_("object"), m.key),
            (_("storage"), m.storage),
        ]
    )
    return 0
