"""`/backup restore ID|latest [DB] --target NAME [--reason TEXT]`: ask the leads for a restore.

Typing the command never overwrites anything: it resolves the backup (``latest`` becomes
a concrete id here, so the approval is for exactly that backup), runs the read-only
preflight, and posts a request with Approve / Deny buttons. The restore itself is a job
that waits in ``awaiting_approval``; ``jobs.approvals`` decides the clicks.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass

from commands.base import ArgParser, Invocation, Reply, Subcommand, resolve_database
from commands.requesting import ask_leads
from core.config import Config
from core.i18n import N_, _
from core.slack_text import escape

log = logging.getLogger(__name__)

USAGE = "restore ID|latest|neon:BRANCH|neon@TIME|neon-snapshot:NAME [DB] --target NAME [--reason TEXT]"


@dataclass(frozen=True)
class RestoreCommand:
    backup_ref: str  # an id, a unique prefix, or latest:<db>
    target: str
    reason: str = ""
    source_db: str | None = None  # the [DB] word, for Neon sources


def build(p: ArgParser) -> None:
    p.add_argument("backup")
    p.add_argument("database", nargs="?")
    p.add_argument("--target", "-t", required=True)
    p.add_argument("--reason", "-r", default="")


def request(ns: argparse.Namespace, cfg: Config) -> RestoreCommand:
    target = resolve_database(cfg, ns.target, USAGE)
    ref = ns.backup.strip()
    if ref.lower() == "latest" or ref.lower().startswith("latest:"):
        source = ref.partition(":")[2] or ns.database or target
        ref = f"latest:{resolve_database(cfg, source, USAGE)}"
    elif ns.database:
        resolve_database(cfg, ns.database, USAGE)
    return RestoreCommand(backup_ref=ref, target=target, reason=ns.reason.strip(), source_db=ns.database)


def _prepare(req: RestoreCommand, inv: Invocation) -> Reply:
    from engine.neon_restore_plan import is_neon_ref

    if is_neon_ref(req.backup_ref):
        from commands.neon_restore import prepare_neon

        return prepare_neon(req.backup_ref, req.target, req.reason, req.source_db, inv)
    from engine.catalog import get_backup
    from engine.restore_plan import preflight, require_ok
    from jobs.approvals import create_request

    def post() -> tuple[int, str, str]:
        manifest = get_backup(inv.cfg, req.backup_ref)
        pre = preflight(inv.cfg, manifest, req.target, state=inv.store)
        require_ok(pre)
        summary = dict(pre.fields)
        if pre.warnings:
            summary["Warnings"] = "; ".join(pre.warnings)  # a key of the request card (jobs/, bot/ show it)
        job = create_request(
            inv.store,
            inv.cfg,
            backup_id=manifest.id,
            target=req.target,
            requested_by=inv.user,
            channel=inv.channel,
            reason=req.reason,
            summary=summary,
            reporter=inv.reporter,
        )
        posted = _("Restore request {job} posted: {backup} into `{target}`.").format(
            job=job.id, backup=escape(manifest.id), target=req.target
        )
        return job.id, req.target, posted

    return ask_leads(inv, "restore", post)


def handle(req: RestoreCommand, inv: Invocation) -> Reply:
    from jobs.freeze import check_not_frozen

    check_not_frozen(inv.store, req.target, "restore", actor=inv.user)
    return Reply(
        _("Checking the backup and `{target}` before asking for approval…").format(target=req.target),
        later=lambda: _prepare(req, inv),
    )


SPEC = Subcommand(
    name="restore",
    usage=USAGE,
    summary=N_("ask the leads to approve a restore (safety dump first, then the runbook)"),
    build=build,
    request=request,
    handle=handle,
    examples=('restore latest prod --target staging --reason "monthly drill"',),
)
