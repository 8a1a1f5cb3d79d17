"""Builds the Bolt app; nothing else. Serving it (HTTP or Socket Mode) is ``bot/__main__.py``'s job.

Bolt verifies every HTTP request's signature and timestamp (older than 5 minutes: 401)
with SLACK_SIGNING_SECRET before any listener runs. Listeners get the shared
``Services`` through the request context.
"""

from __future__ import annotations

from collections.abc import Callable

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from bot.listeners import register_all
from bot.services import Services
from bot.slack_client import offline_authorize


def build_app(services: Services, client: WebClient, signing_secret: str | None) -> App:
    app = App(
        client=client,
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
    def inject_services(context: BoltContext, next: Callable[[], None]) -> None:
        context["services"] = services
        next()

    register_all(app)
    return app
