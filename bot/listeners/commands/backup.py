"""`/backup …`: parse, check, enqueue, ack — then anything slow through ``respond``."""

from __future__ import annotations

import os
from typing import Any

from slack_bolt import Ack, BoltContext, Respond

from bot.listeners.intake import NO_ONE, command_text, ids
from commands.grammar import dispatch
from core.i18n import _
from core.slack_text import fit_text
from jobs.people import remember

COMMAND = os.environ.get("BACKUPBOT_COMMAND", "/backup")


def backup_command(ack: Ack, command: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    who = ids(command.get("user_id"), command.get("channel_id"))
    if who is None:
        ack(text=_(NO_ONE), response_type="ephemeral")
        return
    services = context["services"]
    inv = services.invocation(*who)
    remember(services.store, inv.user, command.get("user_name"))
    reply = dispatch(command_text(command.get("text")), inv)
    ack(text=fit_text(reply.text), response_type="ephemeral" if reply.ephemeral else "in_channel")
    if reply.later is not None:
        later = reply.later()
        respond(text=fit_text(later.text), response_type="ephemeral", replace_original=False)
