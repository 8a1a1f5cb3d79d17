"""`/backup …`: parse, check, enqueue, ack — then anything slow through ``respond``."""

from __future__ import annotations

import os
from typing import Any

from slack_bolt import Ack, BoltContext, Respond

from commands.grammar import dispatch
from jobs.people import remember

COMMAND = os.environ.get("BACKUPBOT_COMMAND", "/backup")


def backup_command(ack: Ack, command: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    services = context["services"]
    inv = services.invocation(command.get("user_id", ""), command.get("channel_id", ""))
    remember(services.store, inv.user, command.get("user_name"))
    reply = dispatch(command.get("text") or "", inv)
    ack(text=reply.text, response_type="ephemeral" if reply.ephemeral else "in_channel")
    if reply.later is not None:
        later = reply.later()
        respond(text=later.text, response_type="ephemeral", replace_original=False)
