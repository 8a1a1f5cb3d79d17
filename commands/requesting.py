"""Posting a request for the leads' approval, and the one reply that says how it went.

A restore, a Neon restore and an undo are asked for the same way: checks and the request
card (``jobs.approvals.create_request``) in ``post``, then either "posted, who may approve
and until when" or the error as a person reads it — never a traceback, never a secret.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from commands.base import Invocation, Reply
from core.errors import BackupbotError
from core.i18n import _
from core.redact import redact

log = logging.getLogger(__name__)


def ask_leads(inv: Invocation, what: str, post: Callable[[], tuple[int, str, str]]) -> Reply:
    """``post()`` returns the request's job id, its target and the sentence saying what was posted."""
    from commands.grammar import error_text
    from jobs.approvals import leads_text

    try:
        job_id, target, posted = post()
    except BackupbotError as err:
        return Reply(error_text(err))
    except Exception:
        log.exception("preparing a %s request failed", what)
        return Reply(
            ":warning: " + _("something went wrong preparing the request; the bot's log has details.")
        )
    can_approve = _("{leads} can approve it within {minutes} min.").format(
        leads=leads_text(inv.cfg, target), minutes=inv.cfg.runner.approval_timeout_minutes
    )
    return Reply(redact(f"{posted} {can_approve}"), job_id=job_id)
