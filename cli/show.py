"""``backupbot show ID``: one backup's manifest — versions, sizes, key id, migration head."""

from __future__ import annotations

import argparse

from cli.dump import add_json_flag
from cli.output import emit_json, human_size
from core.config import load_config
from engine.catalog import get_backup
from jobs.people import display, names_if_store


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("show", help="show a backup's manifest (id, unique prefix or latest:<db>)")
    p.add_argument("backup_id", metavar="ID")
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
    lines = [
        ("id", m.id),
        ("database", f"{m.database} ({m.source})"),
        ("kind", m.kind),
        ("created", data["created_at"]),
        ("requested by", display(m.requested_by, names_if_store(cfg))),
        ("reason", m.reason or "-"),
        ("git sha", m.git_sha or "-"),
        ("server / pg_dump", f"{m.server_version} / {m.pg_dump_version}"),
        ("tables", str(m.table_count)),
        ("migration head", str(head.get("name") or "-")),
        ("dump size", f"{human_size(m.dump_bytes)} ({m.dump_bytes} bytes)"),
        ("stored size", f"{human_size(m.stored_bytes)} ({m.stored_bytes} bytes)"),
        ("sha256", m.sha256),
        ("encryption", f"{m.encryption.get('algorithm')} key id {m.key_id}"),
        ("compression", f"{m.compression.get('algorithm')} level {m.compression.get('level')}"),
        ("duration", f"{m.duration_seconds:.1f} s"),
        ("object", m.key),
        ("storage", m.storage),
    ]
    width = max(len(k) for k, _ in lines)
    for k, v in lines:
        print(f"{k.ljust(width)}  {v}")
    return 0
