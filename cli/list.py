"""``backupbot list``: the backups in the bucket, newest first — what a restore can choose from."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from adapters.storage import open_storage
from cli.dump import add_json_flag
from cli.output import emit_json, human_size
from core.config import load_config
from core.i18n import _
from engine import verify_record
from engine.catalog import list_backups
from engine.manifest_cache import ManifestCache
from jobs.people import display, names_if_store


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("list", help=_("list backups (read from the bucket's manifests)"))
    p.add_argument("--database", "-d", help=_("only this database"))
    p.add_argument("--limit", type=_count, default=0, metavar="N", help=_("only the newest N (default: all)"))
    add_json_flag(p)
    p.set_defaults(func=run)


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(_("expected a whole number, got {text}").format(text=repr(text)))
    return int(text)


def human_age(seconds: float) -> str:
    if seconds < 3600:
        return f"{max(seconds, 0) / 60:.0f}m"
    if seconds < 86400 * 2:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.0f}d"


def run(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    if args.database:
        cfg.database(args.database)  # a typo gets "did you mean", not an empty list
    backups = list_backups(cfg, args.database)
    total = len(backups)
    if args.limit:
        backups = backups[: args.limit]
    checked = verify_record.outcomes(open_storage(cfg.storage), backups, ManifestCache.for_config(cfg))
    if args.json:
        emit_json([m.to_dict() | {"verification": checked.get(m.id)} for m in backups])
        return 0
    if not backups:
        if args.database:
            print(_("no backups of {db}").format(db=args.database))
        else:
            print(_("no backups"))
        return 0
    now = datetime.now(UTC)
    known = names_if_store(cfg)
    rows = [(_("ID"), _("DATABASE"), _("KIND"), _("AGE"), _("SIZE"), _("BY"), _("VERIFIED"), _("REASON"))]
    for m in backups:
        rows.append(
            (
                m.id,
                m.database,
                m.kind,
                human_age(m.age_seconds(now)),
                human_size(m.stored_bytes),
                display(m.requested_by, known),
                verify_record.mark(checked.get(m.id)) or "-",
                m.reason,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1])
    if len(backups) < total:
        print(
            _("({shown} of {total} shown, newest first; without --limit all are listed)").format(
                shown=len(backups), total=f"{total:,}"
            ),
            file=sys.stderr,
        )
    return 0
