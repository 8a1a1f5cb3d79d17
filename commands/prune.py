"""`/backup prune [DB] [--confirm]`: what retention keeps, why, and what it would delete.

The dry run (default) reads the bucket, so it answers "looking" at once and the plan
follows. Deleting needs ``--confirm`` from a lead — one of the database's ``approvers``
or its ``approver_group`` — and runs as a ``prune`` job (audited, in the database's lane).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from commands.base import ArgParser, Invocation, Reply, Subcommand, queue_job, resolve_database
from commands.permissions import GroupDirectory, NotAllowed
from core.config import Config
from core.errors import BackupbotError
from core.slack_text import escape
from core.slack_text import group as slack_group

USAGE = "prune [DB] [--confirm]"
SHOW = 25


@dataclass(frozen=True)
class PruneRequest:
    database: str
    confirm: bool = False


def build(p: ArgParser) -> None:
    p.add_argument("database", nargs="?")
    p.add_argument("--confirm", action="store_true")


def request(ns: argparse.Namespace, cfg: Config) -> PruneRequest:
    return PruneRequest(database=resolve_database(cfg, ns.database, USAGE), confirm=bool(ns.confirm))


def _check_lead(inv: Invocation, database: str) -> None:
    db = inv.cfg.database(database)
    directory = inv.directory or GroupDirectory(None)
    if directory.is_member(inv.user, db.approvers, db.approver_group):
        return
    who = slack_group(db.approver_group) if db.approver_group else "the approvers"
    raise NotAllowed(
        f"only a lead may delete backups of '{database}'",
        detail=f"Leads for {database} are {who} ([databases.{database}] approvers / approver_group).",
        hint=f"Run `/backup prune {database}` without --confirm to see the plan, and ask a lead to confirm it.",
    )


def render(req: PruneRequest, inv: Invocation) -> Reply:
    from commands.grammar import error_text
    from engine.prune import DELETE, PruneSummary, plan_prune
    from jobs.schedule_runs import ensure_schema, last_scheduled_failure

    try:
        ensure_schema(inv.store)
        plan = plan_prune(inv.cfg, req.database, last_failure=last_scheduled_failure(inv.store, req.database))
    except BackupbotError as err:
        return Reply(error_text(err))
    lines = [f"*Retention for `{req.database}`* (dry run — nothing deleted)"]
    for item in plan.items[:SHOW]:
        mark = ":wastebasket: would delete" if item.action == DELETE else ":white_check_mark: keep"
        lines.append(f"• {mark} `{escape(item.backup_id)}` — {escape(item.explain())}")
    if len(plan.items) > SHOW:
        lines.append(
            f"… and {len(plan.items) - SHOW} more not shown here."
        )
    if not plan.items:
        lines.append("No backups yet.")
    lines.append(PruneSummary.of(plan).line())
    neon_delete = False
    if inv.cfg.database(req.database).neon_project_id:
        from engine.neon_prune import plan_branch_prune, prune_lines

        try:
            branches = plan_branch_prune(inv.cfg, req.database, inv.store)
            lines += [f"*Neon backup branches of `{req.database}`*", *prune_lines(branches)]
            neon_delete = bool(branches.to_delete)
        except BackupbotError as err:
            lines.append(error_text(err))
    from jobs.freeze import is_frozen

    if frozen := is_frozen(inv.store, req.database):
        lines.append(
            f":snowflake: `{req.database}` is {frozen.describe()}: `--confirm` is refused until it is unfrozen."
        )
    elif (plan.to_delete and not plan.guard) or neon_delete:
        lines.append(f"A lead can delete them with `/backup prune {req.database} --confirm`.")
    return Reply("\n".join(lines))


def handle(req: PruneRequest, inv: Invocation) -> Reply:
    if not req.confirm:
        return Reply(
            f"Working out what retention keeps for `{req.database}`…", later=lambda: render(req, inv)
        )
    _check_lead(inv, req.database)
    from jobs.freeze import check_not_frozen

    check_not_frozen(inv.store, req.database, "prune", actor=inv.user)
    return queue_job(inv, "prune", req.database, {"confirm": True}, f"pruning of `{req.database}`")


SPEC = Subcommand(
    name="prune",
    usage=USAGE,
    summary="show what retention keeps and why; --confirm (leads) deletes the rest",
    build=build,
    request=request,
    handle=handle,
    examples=("prune prod", "prune prod --confirm"),
)
