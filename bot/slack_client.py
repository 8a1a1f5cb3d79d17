"""The Slack Web API client every part of the bot shares.

``SLACK_API_URL`` points it elsewhere (GovSlack's slack-gov.com, or the tests' local
fake). Retry handlers: 429s wait the Retry-After Slack asks for, dropped connections
and 5xx are tried again; what still fails after that is the outbox's to retry.
"""

from __future__ import annotations

import os

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)


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
