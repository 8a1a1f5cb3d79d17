"""A lead's click on Approve or Deny: ack at once, decide in one transaction, tell who needs to know.

The rules live in ``jobs.approvals``; this only reads the click, passes it on, edits the
request message when the job changed (the outbox re-renders it from the store), wakes
the runner when the restore may start, and answers the clicker privately when there
is something to say (not allowed, own request, already decided, expired).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt import Ack, BoltContext, Respond

from bot.listeners.intake import NO_ONE, click
from commands.grammar import error_text
from core.errors import BackupbotError
from core.i18n import _
from jobs.approvals import apply_decision, decide
from jobs.people import remember

log = logging.getLogger(__name__)


def _clicked(decision: str, ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    ack()
    services = context["services"]
    who = click(body)
    if who is None:
        respond(text=_(NO_ONE), response_type="ephemeral", replace_original=False)
        return
    user = who[0]
    user_info = body.get("user") if isinstance(body.get("user"), dict) else {}
    remember(services.store, user, user_info.get("username") or user_info.get("name"))
    try:
        value = json.loads(who[2] or "{}")
        job_id, binding = int(str(value["job"])[:30]), str(value.get("binding", ""))
    except (ValueError, KeyError, TypeError, IndexError):
        respond(
            text=_(":warning: that button names no restore request."),
            response_type="ephemeral",
            replace_original=False,
        )
        return
    try:
        result = decide(
            services.store, services.cfg, job_id, user, decision, binding, directory=services.directory
        )
    except BackupbotError as err:  # no such job
        respond(text=error_text(err), response_type="ephemeral", replace_original=False)
        return
    apply_decision(result, services.cfg, services.reporter, services.wake)
    if result.reply:
        respond(text=result.reply, response_type="ephemeral", replace_original=False)


def approve_clicked(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    _clicked("approve", ack, body, context, respond)


def deny_clicked(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    _clicked("deny", ack, body, context, respond)
