"""``backupbot prune``: show which backups retention keeps and why; delete only with --confirm.

A dry run is the default because the output is the thing to check: each backup with
kept/deleted and the rule that keeps it, or ``--json`` for a script to assert on. Uploads
left open for more than a day (a killed process, an abort that could not reach the storage)
are listed too and aborted with ``--confirm``.
The pruning guard reads the bot's job store (when this machine has one) to learn whether
the latest scheduled run failed; without a store it still applies the age rule.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from adapters.storage import open_storage
from cli.dump import add_json_flag
from cli.output import emit_json
from core.config import load_config
from core.errors import BackupbotError
from core.i18n import N_, _
from core.redact import redact
from engine.prune import DELETE, DELETED, FAILED, PrunePlan, PruneSummary, apply_prune, plan_prune
from engine.uploads import ABORTED, GONE, STALE_AFTER, WOULD_ABORT, StaleUpload, abort_stale, stale_uploads
from engine.uploads import FAILED as UPLOAD_FAILED

# Actions are keys (in --json, compared); these are how a person reads them.
_PRUNE_LABELS = {DELETE: N_("would delete"), DELETED: N_("deleted"), FAILED: N_("FAILED")}
_UPLOAD_LABELS = {
    WOULD_ABORT: N_("would abort"),
    ABORTED: N_("aborted"),
    GONE: N_("gone"),
    UPLOAD_FAILED: N_("FAILED"),
}


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "prune",
        help=_("apply the retention policy (dry run unless --confirm)"),
        description=_(
            "List each backup with kept/deleted and the rule that keeps it. Nothing is deleted without --confirm."
        ),
    )
    p.add_argument("--database", "-d", help=_("one configured database (default: all)"))
    p.add_argument("--confirm", action="store_true", help=_("really delete (manifest first, then object)"))
    p.add_argument(
        "--uploads-older-than",
        type=float,
        default=STALE_AFTER.total_seconds() / 3600,
        metavar="HOURS",
        help=_("unfinished uploads older than this are leftovers to abort (default: 24)"),
    )
    add_json_flag(p)
    p.set_defaults(func=run)


def _last_failure(cfg: Any, database: str) -> datetime | None:
    from jobs.schedule_runs import last_scheduled_failure_if_store

    return last_scheduled_failure_if_store(cfg, database)


def _refuse_frozen(cfg: Any, names: list[str]) -> None:
    """A freeze set in Slack holds here too, when this machine has the bot's store."""
    from jobs.freeze import check_not_frozen
    from jobs.store import open_existing_store

    store = open_existing_store(cfg)
    if store is None:
        return
    try:
        for name in names:
            check_not_frozen(store, name, "prune", actor="cli")
    finally:
        store.close()


def run(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    names = [cfg.database(args.database).name] if args.database else sorted(cfg.databases)
    now = datetime.now(UTC)
    plans: list[PrunePlan] = []
    if args.confirm:
        _refuse_frozen(cfg, names)
    storage = open_storage(cfg.storage)  # one client for every database: each costs a fifth of a second
    for name in names:
        plan = plan_prune(cfg, name, now=now, last_failure=_last_failure(cfg, name), storage=storage)
        if args.confirm:
            plan = apply_prune(cfg, plan, storage)
        plans.append(plan)
    older = timedelta(hours=max(args.uploads_older_than, 0))
    uploads: list[StaleUpload] = []
    # Unfinished uploads are a side sweep: a credential that may not list them (or a store
    # that cannot) must not hide what the prune itself did, which is printed first.
    uploads_error = ""
    try:
        for name in names:
            uploads += stale_uploads(cfg, name, now=now, older_than=older)
    except BackupbotError as err:
        uploads_error = redact(err.message)
    if args.confirm:
        uploads = abort_stale(cfg, uploads)
    if getattr(args, "json", False):
        emit_json(
            {
                "confirm": bool(args.confirm),
                "databases": [p.as_dict() for p in plans],
                "stale_uploads": [u.as_dict() for u in uploads],
                "stale_uploads_error": uploads_error,
            }
        )
    else:
        for plan in plans:
            _print_plan(plan, bool(args.confirm))
            if cfg.database(plan.database).neon_project_id:
                _print_neon(cfg, plan.database, bool(args.confirm))
        _print_uploads(uploads, older, bool(args.confirm))
    if uploads_error:
        print(
            _("ERROR: unfinished uploads were not checked: {error}").format(error=uploads_error),
            file=sys.stderr,
        )
    failed_uploads = bool(uploads_error) or any(u.action == UPLOAD_FAILED for u in uploads)
    return 1 if any(p.failed for p in plans) or failed_uploads else 0


def _print_uploads(uploads: list[StaleUpload], older: timedelta, confirm: bool) -> None:
    hours = f"{older.total_seconds() / 3600:g} h"
    if not uploads:
        print(_("unfinished uploads older than {hours}: none").format(hours=hours))
        return
    print(_("unfinished uploads older than {hours} (leftovers of interrupted dumps):").format(hours=hours))
    for u in uploads:
        started = u.upload.started.astimezone(UTC)
        error = f"  ({u.error})" if u.error else ""
        msgid = _UPLOAD_LABELS.get(u.action)
        label = _(msgid) if msgid else u.action
        what = _("{key}  started {time}  id {upload_id}").format(
            key=u.upload.key, time=f"{started:%Y-%m-%d %H:%M}", upload_id=u.upload.upload_id
        )
        print(f"  {label:<12} {what}{error}")
    if not confirm:
        print("  " + _("(dry run: nothing was aborted; add --confirm to abort them)"))


def _print_neon(cfg: Any, database: str, confirm: bool) -> None:
    from engine.neon_prune import apply_branch_prune, plan_branch_prune, prune_lines
    from jobs.store import Store

    store = Store.for_config(cfg)
    branches = plan_branch_prune(cfg, database, store)
    if confirm and branches.to_delete:
        branches = apply_branch_prune(cfg, branches, store)
    for line in prune_lines(branches):
        print("  " + line.replace("`", "").lstrip("• "))


def _label(action: str) -> str:
    msgid = _PRUNE_LABELS.get(action)
    return _(msgid) if msgid else _("kept")


def _print_plan(plan: PrunePlan, confirm: bool) -> None:
    print(f"{plan.database}:")
    if not plan.items:
        print("  " + _("no backups"))
    for item in plan.items:
        created = item.manifest.created_at.astimezone(UTC)
        print(f"  {_label(item.action):<12} {item.backup_id:<48} {created:%Y-%m-%d %H:%M}  {item.explain()}")
    summary = PruneSummary.of(plan)
    print(f"  {summary.line()}")
    if not confirm and plan.to_delete and not plan.guard:
        print("  " + _("(dry run: nothing was deleted; add --confirm to delete)"))
