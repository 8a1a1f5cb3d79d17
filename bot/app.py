"""Builds the Bolt app; nothing else. Serving it (HTTP or Socket Mode) is ``bot/__main__.py``'s job.

Bolt verifies every HTTP request's signature and timestamp (older than 5 minutes: 401)
with SLACK_SIGNING_SECRET before any listener runs. Listeners get the shared
``Services`` through the request context.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltContext, BoltResponse
from slack_sdk import WebClient

from bot.listeners import register_all
from bot.services import Services
from bot.slack_client import offline_authorize
from core.i18n import N_, _

NOT_HANDLED = N_(":warning: backupbot does not handle that request; nothing was done.")


def well_formed(body: Any) -> bool:
    """A slash command, a click on a block button or an event, with the fields the listeners read."""
    if not isinstance(body, dict):
        return False
    if body.get("type") == "block_actions":
        actions = body.get("actions")
        return (
            isinstance(actions, list)
            and len(actions) > 0
            and all(isinstance(a, dict) and isinstance(a.get("action_id"), str) for a in actions)
            and all(isinstance(a.get("block_id", ""), str) for a in actions)
        )
    if body.get("type") == "event_callback":  # the Home tab opened
        event = body.get("event")
        return isinstance(event, dict) and isinstance(event.get("type"), str)
    return isinstance(body.get("command"), str) and "type" not in body


class NoBodies(logging.Filter):
    """Bolt logs the whole body of a request it refuses or has no listener for; keep only the fact.

    Anyone can send a body, so a body in the log is a way to fill the disk (and the
    body of a real request holds what people typed).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        for marker in ("Invalid request signature", "Unhandled request"):
            if message.startswith(marker):
                record.msg, record.args = f"{marker} (body not logged)", None
                record.exc_info = record.exc_text = None
        return True


def bolt_logger() -> logging.Logger:
    logger = logging.getLogger("backupbot.bolt")
    if not any(isinstance(f, NoBodies) for f in logger.filters):
        logger.addFilter(NoBodies())
    return logger


def build_app(services: Services, client: WebClient, signing_secret: str | None) -> App:
    app = App(
        client=client,
        logger=bolt_logger(),  # its filter is copied to every logger Bolt makes from it
        signing_secret=signing_secret,
        # Neither starting nor acknowledging may depend on the Web API being reachable:
        # a restart during a Slack outage still recovers and runs jobs, and commands are
        # still acknowledged while Slack's API is down (no auth.test on the first request).
        authorize=offline_authorize(client.token or ""),
        request_verification_enabled=signing_secret is not None,
        process_before_response=False,
        raise_error_for_unhandled_request=False,
    )

    @app.middleware
    def only_what_we_handle(body: Any, next: Callable[[], BoltResponse]) -> BoltResponse:
        # Bolt's listener matching indexes the payload and fails with a 500 on one of the
        # wrong shape (an action without an action_id); no listener would take it anyway.
        if not well_formed(body):
            return BoltResponse(status=200, body={"response_type": "ephemeral", "text": _(NOT_HANDLED)})
        return next()

    @app.middleware
    def inject_services(context: BoltContext, next: Callable[[], None]) -> None:
        context["services"] = services
        next()

    register_all(app)
    return app
