"""Cancel and Retry buttons on job messages and alerts.

A click goes through the same grammar and permission checks as typing the command,
so a button can never do what its clicker could not type.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, BoltContext, Respond

from commands.grammar import dispatch, error_text
from commands.permissions import check_allowed
from core.errors import BackupbotError
from jobs.queue import enqueue


def _who(body: dict[str, Any]) -> tuple[str, str, str]:
    action = body["actions"][0]
    return body["user"]["id"], (body.get("channel") or {}).get("id", ""), str(action.get("value", ""))


def cancel_clicked(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    ack()
    user, channel, value = _who(body)
    reply = dispatch(f"cancel {value}", context["services"].invocation(user, channel))
    respond(text=reply.text, response_type="ephemeral", replace_original=False)


def retry_clicked(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    ack()
    services = context["services"]
    user, channel, value = _who(body)
    try:
        check_allowed(services.cfg.slack, user, channel, services.directory)
        old = services.store.get_job(int(value))
        job = enqueue(
            services.store,
            old.kind,
            old.database,
            old.params,
            requested_by=user,
            channel=old.channel or channel,
            reporter=services.reporter,
            lane=old.lane,
        )
        services.wake()
        text = f"Queued {job.title} again (retry of job {old.id})."
    except BackupbotError as err:
        text = error_text(err)
    except ValueError:
        text = ":warning: that button names no job."
    respond(text=text, response_type="ephemeral", replace_original=False)
