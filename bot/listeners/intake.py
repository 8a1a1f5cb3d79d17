"""What every listener checks of a Slack request before acting on it.

Slack sends user and channel ids of a fixed shape; a request naming anything else was
not made by a person in Slack, and an id put into a message as ``<@…>`` must never
carry markup. Slack sends ``&``, ``<`` and ``>`` typed in a command as ``&amp;``,
``&lt;`` and ``&gt;``; the commands get the text as typed, and every message escapes it
again on the way out.
"""

from __future__ import annotations

import re
from typing import Any

from core.i18n import N_
from core.slack_text import unescape

_USER = re.compile(r"[UW][A-Z0-9]{1,20}")
_CHANNEL = re.compile(r"[CGD][A-Z0-9]{1,20}")

NO_ONE = N_(":warning: this request names no Slack user or channel; nothing was done.")


def ids(user: Any, channel: Any, need_channel: bool = True) -> tuple[str, str] | None:
    """(user, channel) when both look like Slack's ids, else None; a click on the Home tab has no channel."""
    user, channel = str(user or ""), str(channel or "")
    if _USER.fullmatch(user) and (_CHANNEL.fullmatch(channel) or (not need_channel and not channel)):
        return user, channel
    return None


def command_text(text: Any) -> str:
    return unescape(text) if isinstance(text, str) else ""


def click(body: dict[str, Any], need_channel: bool = True) -> tuple[str, str, str] | None:
    """(user, channel, the button's value) of a block action, or None when it names no one."""
    actions = body.get("actions")
    action = actions[0] if isinstance(actions, list) and actions and isinstance(actions[0], dict) else {}
    user = body.get("user") if isinstance(body.get("user"), dict) else {}
    channel = body.get("channel") if isinstance(body.get("channel"), dict) else {}
    who = ids(user.get("id"), channel.get("id"), need_channel)
    if who is None:
        return None
    value = action.get("value", "")
    return who[0], who[1], value if isinstance(value, str) else ""
