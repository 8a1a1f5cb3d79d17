"""The App Home tab: published when someone opens it, and again after they click a button on it.

A click on the tab has no ``response_url`` (nothing to answer privately), so what the click
did is shown as a note at the top of the republished tab.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot.home import APPROVE_ACTION, DENY_ACTION, build_home
from bot.listeners.intake import click
from commands.grammar import error_text
from core.errors import BackupbotError
from core.i18n import _
from core.redact import redact
from jobs.people import remember

log = logging.getLogger(__name__)


def publish(client: WebClient, context: BoltContext, user: str, note: str = "") -> None:
    services = context["services"]
    try:
        view = build_home(services.cfg, services.store, user, services.directory, note)
        client.views_publish(user_id=user, view=view)
    except Exception as exc:  # the tab is a convenience; never let it break a listener
        log.warning("publishing the Home tab for %s failed: %s", user, redact(str(exc)))


def home_opened(event: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    if event.get("tab", "home") != "home":
        return
    publish(client, context, str(event.get("user", "")))


def _clicked(decision: str, ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    from jobs.approvals import apply_decision, decide

    ack()
    services = context["services"]
    who = click(body, need_channel=False)
    if who is None:
        return  # no Slack user to show a tab to
    user = who[0]
    user_info = body.get("user") if isinstance(body.get("user"), dict) else {}
    remember(services.store, user, user_info.get("username") or user_info.get("name"))
    try:
        value = json.loads(who[2] or "{}")
        job_id, binding = int(str(value["job"])[:30]), str(value.get("binding", ""))
    except (ValueError, KeyError, TypeError, IndexError):
        publish(client, context, user, _(":warning: that button names no restore request."))
        return
    try:
        result = decide(
            services.store, services.cfg, job_id, user, decision, binding, directory=services.directory
        )
    except BackupbotError as err:  # no such job
        publish(client, context, user, error_text(err))
        return
    apply_decision(result, services.cfg, services.reporter, services.wake)
    if result.reply:
        note = result.reply
    elif result.outcome == "approved":
        note = _(":white_check_mark: You approved restore request {id}; it is queued.").format(id=job_id)
    elif result.outcome == "denied":
        note = _(":no_entry_sign: You denied restore request {id}; nothing was changed.").format(id=job_id)
    else:
        note = _("Restore request {id}: {outcome}.").format(id=job_id, outcome=result.outcome)
    publish(client, context, user, note)


def approve(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    _clicked("approve", ack, body, client, context)


def deny(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    _clicked("deny", ack, body, client, context)


def register(app: App) -> None:
    app.event("app_home_opened")(home_opened)
    app.action(APPROVE_ACTION)(approve)
    app.action(DENY_ACTION)(deny)
