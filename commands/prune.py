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
from core.i18n import N_, _, ngettext
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
    detail = (
        _("Leads for {db} are {group} ([databases.{db}] approvers / approver_group).").format(
            db=database, group=slack_group(db.approver_group)
        )
        if db.approver_group
        else _("Leads for {db} are the approvers ([databases.{db}] approvers / approver_group).").format(
            db=database
        )
    )
    raise NotAllowed(
        _("only a lead may delete backups of '{db}'").format(db=database),
        detail=detail,
        hint=_(
            "Run `/backup prune {db}` without --confirm to see the plan, and ask a lead to confirm it."
        ).format(db=database),
    )


def render(req: PruneRequest, inv: Invocation) -> Reply:
    from commands.grammar import error_text
    from engine.prune import DELETE, PruneSummary, plan_prune
    from engine.uploads import stale_uploads
    from jobs.schedule_runs import ensure_schema, last_scheduled_failure

    try:
        ensure_schema(inv.store)
        plan = plan_prune(inv.cfg, req.database, last_failure=last_scheduled_failure(inv.store, req.database))
        stale = stale_uploads(inv.cfg, req.database)
    except BackupbotError as err:
        return Reply(error_text(err))
    lines = [_("*Retention for `{db}`* (dry run — nothing deleted)").format(db=req.database)]
    for item in plan.items[:SHOW]:
        mark = _(":wastebasket: would delete") if item.action == DELETE else _(":white_check_mark: keep")
        lines.append(f"• {mark} `{escape(item.backup_id)}` — {escape(item.explain())}")
    if len(plan.items) > SHOW:
        lines.append(_("… and {n} more not shown here.").format(n=len(plan.items) - SHOW))
    if not plan.items:
        lines.append(_("No backups yet."))
    lines.append(PruneSummary.of(plan).line())
    neon_delete = False
    if inv.cfg.database(req.database).neon_project_id:
        from engine.neon_prune import plan_branch_prune, prune_lines

        try:
            branches = plan_branch_prune(inv.cfg, req.database, inv.store)
            lines += [_("*Neon backup branches of `{db}`*").format(db=req.database), *prune_lines(branches)]
            neon_delete = bool(branches.to_delete)
        except BackupbotError as err:
            lines.append(error_text(err))
    if stale:
        lines.append(
            ngettext(
                "{n} unfinished upload(s) older than a day (leftovers of interrupted dumps), "
                "oldest from {at} UTC; `--confirm` aborts them.",
                "{n} unfinished upload(s) older than a day (leftovers of interrupted dumps), "
                "oldest from {at} UTC; `--confirm` aborts them.",
                len(stale),
            ).format(n=len(stale), at=f"{stale[0].upload.started:%Y-%m-%d %H:%M}")
        )
    from jobs.freeze import is_frozen

    if frozen := is_frozen(inv.store, req.database):
        lines.append(
            ":snowflake: "
            + _("`{db}` is {state}: `--confirm` is refused until it is unfrozen.").format(
                db=req.database, state=frozen.describe()
            )
        )
    elif (plan.to_delete and not plan.guard) or neon_delete or stale:
        lines.append(_("A lead can delete them with `/backup prune {db} --confirm`.").format(db=req.database))
    return Reply("\n".join(lines))


def handle(req: PruneRequest, inv: Invocation) -> Reply:
    if not req.confirm:
        return Reply(
            _("Working out what retention keeps for `{db}`…").format(db=req.database),
            later=lambda: render(req, inv),
        )
    _check_lead(inv, req.database)
    from jobs.freeze import check_not_frozen

    check_not_frozen(inv.store, req.database, "prune", actor=inv.user)
    return queue_job(
        inv,
        "prune",
        req.database,
        {"confirm": True},
        lambda job: _("Queued pruning of `{db}` as job {job}.").format(db=req.database, job=job),
    )


SPEC = Subcommand(
    name="prune",
    usage=USAGE,
    summary=N_("show what retention keeps and why; --confirm (leads) deletes the rest"),
    build=build,
    request=request,
    handle=handle,
    examples=("prune prod", "prune prod --confirm"),
)
