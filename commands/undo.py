"""`/backup undo RESTORE_ID [--reason TEXT]`: ask the leads to swap back a swap restore.

A swap restore keeps the database it replaced for ``keep_previous_hours``; putting it
back is two renames, but it overwrites what is being served now, so it takes the same
approval as a restore. The request is a restore job whose "backup" is ``undo:<id>``:
the buttons, the binding of the approval to what was shown, expiry and the audit trail
are exactly those of a restore.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass

from commands.base import ArgParser, Invocation, Reply, Subcommand
from commands.requesting import ask_leads
from core.config import Config
from core.errors import BackupbotError
from core.i18n import N_, _

log = logging.getLogger(__name__)

USAGE = "undo RESTORE_ID [--reason TEXT]"


@dataclass(frozen=True)
class UndoCommand:
    restore_id: str
    reason: str = ""


def build(p: ArgParser) -> None:
    p.add_argument("restore_id")
    p.add_argument("--reason", "-r", default="")


def request(ns: argparse.Namespace, cfg: Config) -> UndoCommand:
    return UndoCommand(restore_id=ns.restore_id.strip(), reason=ns.reason.strip())


def _prepare(req: UndoCommand, inv: Invocation) -> Reply:
    from engine import restore_swap
    from jobs.approvals import create_request
    from jobs.freeze import check_not_frozen
    from jobs.kinds.restore import UNDO_PREFIX

    def post() -> tuple[int, str, str]:
        rec = restore_swap.find(inv.store, req.restore_id)
        target = str(rec["target"])
        check_not_frozen(inv.store, target, "undo", actor=inv.user)
        if rec.get("phase") != "switched":
            raise BackupbotError(
                _("restore {restore} cannot be swapped back: it is {phase}").format(
                    restore=req.restore_id, phase=rec.get("phase", "unknown")
                ),
                hint=_("Restore its safety dump instead (the runbook entry names it)."),
            )
        # The keys name the request card's rows (jobs/ and bot/ read them); the values are read.
        summary = {
            "Undo": _(
                "swap back restore {restore}: {previous} becomes {target_db} again "
                "(every write up to that restore's switch); the database serving now is kept for {hours} h"
            ).format(
                restore=req.restore_id,
                previous=rec["previous"],
                target_db=rec["target_db"],
                hours=f"{inv.cfg.database(target).keep_previous_hours:g}",
            ),
            "Target": f"{target} ({rec['target_db']})",
            "Kept until": str(rec.get("drop_after", "?"))[:16].replace("T", " ") + " UTC",
        }
        job = create_request(
            inv.store,
            inv.cfg,
            backup_id=f"{UNDO_PREFIX}{req.restore_id}",
            target=target,
            requested_by=inv.user,
            channel=inv.channel,
            reason=req.reason or _("undo {restore}").format(restore=req.restore_id),
            summary=summary,
            reporter=inv.reporter,
        )
        posted = _("Undo request {job} posted: swap back {restore} on `{target}`.").format(
            job=job.id, restore=req.restore_id, target=target
        )
        return job.id, target, posted

    return ask_leads(inv, "undo", post)


def handle(req: UndoCommand, inv: Invocation) -> Reply:
    return Reply(
        _("Checking restore {restore} before asking for approval…").format(restore=req.restore_id),
        later=lambda: _prepare(req, inv),
    )


SPEC = Subcommand(
    name="undo",
    usage=USAGE,
    summary=N_("ask the leads to swap back a swap restore (its replaced database is kept for a while)"),
    build=build,
    request=request,
    handle=handle,
    examples=('undo staging-20260101T120000Z-restore --reason "wrong backup"',),
)
