"""`/backup restore neon:…|neon@…|neon-snapshot:… --target NAME`: ask the leads for a restore from Neon.

The same request card and gate as a dump restore (``jobs.approvals``): typing the command
reads Neon (the target branch, its size, every database on it, the source) and posts the
request; nothing is restored until enough leads approve it.
"""

from __future__ import annotations

from commands.base import Invocation, Reply
from commands.requesting import ask_leads
from core.i18n import _


def prepare_neon(ref: str, target: str, reason: str, source_db: str | None, inv: Invocation) -> Reply:
    from engine.neon_restore_plan import plan_neon_restore
    from jobs.approvals import create_request

    def post() -> tuple[int, str, str]:
        plan = plan_neon_restore(inv.cfg, ref, target, source_db=source_db)
        job = create_request(
            inv.store,
            inv.cfg,
            backup_id=plan.source.ref,
            target=target,
            requested_by=inv.user,
            channel=inv.channel,
            reason=reason,
            summary=plan.summary(),
            reporter=inv.reporter,
            extra=plan.params(),
        )
        posted = _("Restore request {job} posted: {source} into `{target}` (Neon branch `{branch}`).").format(
            job=job.id, source=plan.source.ref, target=target, branch=plan.target_branch["name"]
        )
        return job.id, target, posted

    return ask_leads(inv, "Neon restore", post)
