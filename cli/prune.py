"""``backupbot prune``: show which backups retention keeps and why; delete only with --confirm.

A dry run is the default because the output is the thing to check: each backup with
kept/deleted and the rule that keeps it, or ``--json`` for a script to assert on.
The pruning guard reads the bot's job store (when this machine has one) to learn whether
the latest scheduled run failed; without a store it still applies the age rule.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from cli.dump import add_json_flag
from cli.output import emit_json
from core.config import load_config
from engine.prune import DELETE, DELETED, FAILED, PrunePlan, PruneSummary, apply_prune, plan_prune


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "prune",
        help="apply the retention policy (dry run unless --confirm)",
        description="List each backup with kept/deleted and the rule that keeps it. "
        "Nothing is deleted without --confirm.",
    )
    p.add_argument("--database", "-d", help="one configured database (default: all)")
    p.add_argument("--confirm", action="store_true", help="really delete (manifest first, then object)")
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
    for name in names:
        plan = plan_prune(cfg, name, now=now, last_failure=_last_failure(cfg, name))
        if args.confirm:
            plan = apply_prune(cfg, plan)
        plans.append(plan)
    if getattr(args, "json", False):
        emit_json({"confirm": bool(args.confirm), "databases": [p.as_dict() for p in plans]})
    else:
        for plan in plans:
            _print_plan(plan, bool(args.confirm))
            if cfg.database(plan.database).neon_project_id:
                _print_neon(cfg, plan.database, bool(args.confirm))
    return 1 if any(p.failed for p in plans) else 0


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
    return {DELETE: "would delete", DELETED: "deleted", FAILED: "FAILED"}.get(action, "kept")


def _print_plan(plan: PrunePlan, confirm: bool) -> None:
    print(f"{plan.database}:")
    if not plan.items:
        print("  no backups")
    for item in plan.items:
        created = item.manifest.created_at.astimezone(UTC)
        print(f"  {_label(item.action):<12} {item.backup_id:<48} {created:%Y-%m-%d %H:%M}  {item.explain()}")
    summary = PruneSummary.of(plan)
    print(f"  {summary.line()}")
    if not confirm and plan.to_delete and not plan.guard:
        print("  (dry run: nothing was deleted; add --confirm to delete)")
