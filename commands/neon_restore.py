"""`/backup restore neon:…|neon@…|neon-snapshot:… --target NAME`: ask the leads for a restore from Neon.

The same request card and gate as a dump restore (``jobs.approvals``): typing the command
reads Neon (the target branch, its size, every database on it, the source) and posts the
request; nothing is restored until enough leads approve it.
"""

from __future__ import annotations

import logging

from commands.base import Invocation, Reply
from core.errors import BackupbotError
from core.i18n import _
from core.redact import redact

log = logging.getLogger(__name__)


def prepare_neon(ref: str, target: str, reason: str, source_db: str | None, inv: Invocation) -> Reply:
    from commands.grammar import error_text
    from engine.neon_restore_plan import plan_neon_restore
    from jobs.approvals import create_request, leads_text

    try:
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
    except BackupbotError as err:
        return Reply(error_text(err))
    except Exception:
        log.exception("preparing a Neon restore request failed")
        return Reply(
            ":warning: " + _("something went wrong preparing the restore request; the bot's log has details.")
        )
    minutes = inv.cfg.runner.approval_timeout_minutes
    return Reply(
        redact(
            _(
                "Restore request {job} posted: {source} into `{target}` (Neon branch `{branch}`). "
                "{leads} can approve it within {minutes} min."
            ).format(
                job=job.id,
                source=plan.source.ref,
                target=target,
                branch=plan.target_branch["name"],
                leads=leads_text(inv.cfg, target),
                minutes=minutes,
            )
        ),
        job_id=job.id,
    )
