"""``backupbot branch`` and ``backupbot branches``: Neon backup branches from a pipeline or a terminal.

``branch`` exits 0 only once Neon says the branch is ready, with the same exit codes as
``dump`` (2 for a wrong command or setting, 1 for anything that failed), so a deploy
pipeline can put it in front of a migration exactly where the dump was.
"""

from __future__ import annotations

import argparse
import os
import sys

from cli.dump import add_json_flag
from cli.output import emit_json, print_fields
from core.config import Config, load_config
from core.i18n import _
from core.identity import cli_identity

KINDS = ("manual", "pre-migration", "pre-deploy", "pre-infra")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("branch", help=_("make a Neon backup branch of a database (no compute)"))
    p.add_argument("--database", "-d", help=_("configured database on Neon (default: the only one)"))
    p.add_argument("--kind", default="manual", choices=KINDS)
    p.add_argument("--reason", default="", help=_("why (written on the branch)"))
    p.add_argument("--name", default="", help=_("branch name (default backup-YYYYMMDD, -2, -3 … when taken)"))
    p.add_argument(
        "--at", default="", help=_("branch from this past moment (RFC 3339, inside the history window)")
    )
    p.add_argument("--keep", action="store_true", help=_("no expiry (default: pre_event_days)"))
    p.add_argument("--git-sha", help=_("commit being deployed (default: $GIT_SHA or $SOURCE_VERSION)"))
    p.add_argument("--requested-by", default=cli_identity(), help=argparse.SUPPRESS)
    add_json_flag(p)
    p.set_defaults(func=run_branch)

    q = sub.add_parser("branches", help=_("list Neon backup branches and snapshots of a database"))
    q.add_argument("--database", "-d", help=_("configured database on Neon (default: the only one)"))
    add_json_flag(q)
    q.set_defaults(func=run_branches)


def _database(cfg: Config, given: str | None) -> str:
    from engine.neon_branches import pick_neon_database

    return pick_neon_database(cfg, given, "backupbot branch --database DB")


def run_branch(args: argparse.Namespace) -> int:
    from engine.neon_branches import create_backup_branch, parse_time

    cfg = load_config(args.config)
    database = _database(cfg, args.database)
    sha = args.git_sha or os.environ.get("GIT_SHA") or os.environ.get("SOURCE_VERSION") or ""
    tty = sys.stderr.isatty()
    b = create_backup_branch(
        cfg,
        database,
        name=args.name or None,
        at=parse_time(args.at) if args.at else None,
        kind=args.kind,
        reason=args.reason,
        requested_by=args.requested_by,
        git_sha=sha,
        keep=args.keep,
        on_wait=(lambda text: print("  " + _("waiting for Neon: {what}").format(what=text), file=sys.stderr))
        if tty
        else None,
    )
    if args.json:
        emit_json(b.as_dict())
        return 0
    print(_("branch {name} ready").format(name=b.name))
    print_fields(
        [
            ("id:", b.id),
            (_("parent:"), b.parent_name or b.parent_id),
            (_("point in time:"), str(b.point_in_time)),
            (_("expires:"), str(b.expires_at or _("never"))),
        ],
        indent="  ",
        gap=1,
    )
    return 0


def run_branches(args: argparse.Namespace) -> int:
    from core.units import human_bytes
    from engine.neon_branches import list_backup_branches

    cfg = load_config(args.config)
    listing = list_backup_branches(cfg, _database(cfg, args.database))
    if args.json:
        emit_json(
            {
                "database": listing.database,
                "project_id": listing.project_id,
                "branch": listing.own_branch["name"],
                "backups": [b.as_dict() for b in listing.backups],
                "snapshots": listing.snapshots,
            }
        )
        return 0
    print(
        _("Neon backup branches of {db} (project {project}):").format(
            db=listing.database, project=listing.project_id
        )
    )
    if not listing.backups:
        print("  " + _("none yet; `backupbot branch --database {db}` makes one").format(db=listing.database))
    for b in listing.backups:
        line = _(
            "{created} from {parent} at {point}  {size}  {kind} by {who}{reason}  expires {expires}"
        ).format(
            created=f"{b.created_at:%Y-%m-%d %H:%M}",
            parent=b.parent_name or b.parent_id or "-",
            point=b.point_in_time,
            size=human_bytes(b.size_bytes),
            kind=b.kind or "?",
            who=b.requested_by or "?",
            reason=" — " + b.reason if b.reason else "",
            expires=b.expires_at or _("never"),
        )
        print(f"  {b.name:<28} {line}")
    for s in listing.snapshots:
        print(
            "  "
            + _("snapshot {name} taken {time}").format(
                name=s["name"], time=s.get("timestamp") or s["created_at"]
            )
        )
    return 0
