"""The Slack Web API client every part of the bot shares.

``SLACK_API_URL`` points it elsewhere (GovSlack's slack-gov.com, or the tests' local
fake). Retry handlers: 429s wait the Retry-After Slack asks for, dropped connections
and 5xx are tried again; what still fails after that is the outbox's to retry.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from core.errors import ConfigError
from core.i18n import _
from core.redact import redact


def api_base_url() -> str:
    url = os.environ.get("SLACK_API_URL") or WebClient.BASE_URL
    # WebClient joins base_url and the method name by plain concatenation.
    return url if url.endswith("/") else url + "/"


def make_client(token: str | None) -> WebClient:
    return WebClient(
        token=token,
        base_url=api_base_url(),
        timeout=10,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=3),
            ServerErrorRetryHandler(max_retry_count=2),
        ],
    )


def offline_authorize(token: str) -> Callable[..., AuthorizeResult]:
    """Bolt's authorization for a single workspace without asking Slack first.

    Bolt's default calls ``auth.test`` on the first request and answers 500 while the
    Web API is unreachable, so a partial Slack outage would make every `/backup`
    command and button fail to acknowledge. The listeners need only the bot token.
    """

    def authorize(enterprise_id: str | None, team_id: str | None, user_id: str | None) -> AuthorizeResult:
        return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, user_id=user_id, bot_token=token)

    return authorize


def check_app_token(token: str) -> str:
    """The Socket Mode token ("" for HTTP mode), or a clear error before anything starts.

    A bot token pasted there would otherwise fail only deep inside the SDK, after the
    runner had already begun taking jobs.
    """
    if not token or token.startswith("xapp-"):
        return token
    if token.startswith("xoxb-"):
        detail = _(
            "Socket Mode needs a token starting with xapp-; SLACK_APP_TOKEN holds a bot token (xoxb-)."
        )
    else:
        detail = _("Socket Mode needs a token starting with xapp-; SLACK_APP_TOKEN holds {start}.").format(
            start=f"'{redact(token)[:12]}…'"
        )
    raise ConfigError(
        _("SLACK_APP_TOKEN is not an app-level token"),
        detail=detail,
        hint=_(
            "Create one under Basic Information → App-Level Tokens with the connections:write scope, "
            "or unset SLACK_APP_TOKEN to serve HTTP with SLACK_SIGNING_SECRET."
        ),
    )
