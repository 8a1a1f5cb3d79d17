"""Requests to the bot signed exactly as Slack signs them (v0, HMAC-SHA256 of v0:timestamp:body)."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from typing import Any
from urllib.parse import urlencode

import requests

_TRIGGERS = itertools.count(1)


def trigger_id() -> str:
    """Slack gives every interaction its own trigger id, so two identical commands are two requests."""
    return f"{int(time.time())}.{next(_TRIGGERS)}.{time.monotonic_ns() % 10**9}"


def signature(secret: str, timestamp: str, body: str) -> str:
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(
    secret: str,
    body: str,
    timestamp: int | None = None,
    content_type: str = "application/x-www-form-urlencoded",
) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature(secret, ts, body),
    }


def command_body(
    text: str, user: str = "U1", channel: str = "C1", response_url: str = "", command: str = "/backup"
) -> str:
    return urlencode(
        {
            "token": "legacy-unused",
            "team_id": "T1",
            "team_domain": "acme",
            "channel_id": channel,
            "channel_name": "backups",
            "user_id": user,
            "user_name": user.lower(),
            "command": command,
            "text": text,
            "api_app_id": "A1",
            "response_url": response_url,
            "trigger_id": trigger_id(),
        }
    )


def action_body(
    action_id: str,
    value: str,
    user: str = "U1",
    channel: str = "C1",
    response_url: str = "",
    message_ts: str = "1.0",
) -> str:
    payload: dict[str, Any] = {
        "type": "block_actions",
        "team": {"id": "T1", "domain": "acme"},
        "user": {"id": user, "username": user.lower(), "team_id": "T1"},
        "api_app_id": "A1",
        "token": "legacy-unused",
        "container": {"type": "message", "message_ts": message_ts, "channel_id": channel},
        "trigger_id": trigger_id(),
        "channel": {"id": channel, "name": "backups"},
        "message": {"ts": message_ts, "text": ""},
        "response_url": response_url,
        "actions": [
            {"action_id": action_id, "block_id": "b", "value": value, "type": "button", "action_ts": "1.0"}
        ],
    }
    return urlencode({"payload": json.dumps(payload)})


def post_signed(
    url: str, secret: str, body: str, timestamp: int | None = None, timeout: float = 10.0
) -> requests.Response:
    return requests.post(
        url, data=body.encode(), headers=signed_headers(secret, body, timestamp), timeout=timeout
    )
