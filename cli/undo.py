"""``backupbot undo RESTORE_ID``: swap back a swap restore from a terminal.

Like ``backupbot restore``, it only shows what it would do unless ``--break-glass`` and a
reason are given; then it runs without a Slack approval, audited and announced.
"""

from __future__ import annotations

import argparse

from cli.dump import add_json_flag
from cli.output import emit_json
from core.config import load_config
from core.errors import UsageError


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "undo",
        help="swap back a swap restore (dry run unless --break-glass)",
        description="Put back the database a swap restore replaced, while it is still kept.",
    )
    p.add_argument("restore_id", metavar="RESTORE_ID")
    p.add_argument("--break-glass", action="store_true", help="run now without a Slack approval")
    p.add_argument("--reason", default="", help="why (required with --break-glass)")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cli.restore import announce
    from core.identity import break_glass_identity
    from engine import restore_swap
    from jobs.freeze import check_not_frozen
    from jobs.store import Store

    cfg = load_config(args.config)
    store = Store.for_config(cfg)
    rec = restore_swap.find(store, args.restore_id)
    if not args.break_glass:
        what = (
            f"Dry run: nothing was changed. Undoing {args.restore_id} would rename {rec['target_db']} away and "
            f"put {rec['previous']} back under its name (phase now: {rec.get('phase')})."
        )
        if args.json:
            emit_json({"dry_run": True, **rec})
        else:
            print(what)
            print(f'Ask for it in Slack:    /backup undo {args.restore_id} --reason "…"')
            print(f"Only if Slack is down:  {restore_swap.undo_command(args.restore_id)}")
        return 0
    if not args.reason.strip():
        raise UsageError(
            "--break-glass needs --reason",
            hint=f'backupbot undo {args.restore_id} --break-glass --reason "…"',
        )
    who = break_glass_identity()
    check_not_frozen(store, str(rec["target"]), "undo", actor=who)
    store.audit(None, "break_glass_undo_started", who, {"restore_id": args.restore_id, "reason": args.reason})
    text = restore_swap.undo(cfg, store, args.restore_id, holder=who)
    store.audit(None, "break_glass_undo_succeeded", who, {"restore_id": args.restore_id})
    announce(cfg, f":rewind: Break-glass undo by {who} of {args.restore_id}: {text}")
    if args.json:
        emit_json({"restore_id": args.restore_id, "undone": True, "text": text})
    else:
        print(text)
    return 0
