"""Text on its way into a Slack message: escaped, cleaned, and cut to what Slack accepts.

Slack reads ``<…>`` in message text as a mention, a channel or a link, so anyone whose
words the bot repeats (a ``--reason``, a backup id, a hook's output, a database error)
could page the whole channel with ``<!channel>`` or plant ``<https://evil|the runbook>``
in a bot message. Slack's own rule is to escape ``&``, ``<`` and ``>``; ``escape`` does
that, and also drops bidi overrides and zero-width characters, which can make a
message read differently from what it says. Only the bot's own markup (``mention``,
a channel it was configured with) is left as markup.

Slack refuses a whole message (``invalid_blocks``) when one text is too long, so every
message is cut here to Slack's documented Block Kit limits: a refused message would
leave the channel without news of a job that ran. Everything here is linear in the
length of its input.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from core.i18n import ngettext

# Slack's documented limits (Block Kit reference, chat.postMessage).
SECTION_TEXT = 3000
FIELD_TEXT = 2000
FIELDS = 10
CONTEXT_TEXT = 3000
CONTEXT_ELEMENTS = 10
HEADER_TEXT = 150
BUTTON_TEXT = 75
BUTTON_VALUE = 2000
CONFIRM_TITLE = 100
CONFIRM_TEXT = 300
CONFIRM_BUTTON = 30
BLOCKS = 50
ACTION_ELEMENTS = 25
BLOCK_ID = 255
MESSAGE_TEXT = 40000  # Slack truncates beyond this; the bot cuts first, with a mark
# A slash command's text is what a person typed after `/backup`; nothing Slack sends is longer.
COMMAND_TEXT = 4000

ELLIPSIS = "…"

# Bidi embeddings/overrides/isolates and marks, zero-width characters, the BOM, and C0/C1
# controls other than newline and tab.
_INVISIBLE = dict.fromkeys(
    [
        *range(0x00, 0x09),
        0x0B,
        0x0C,
        *range(0x0E, 0x20),
        *range(0x7F, 0xA0),
        0x061C,
        0x180E,
        *range(0x200B, 0x2010),
        *range(0x202A, 0x202F),
        *range(0x2060, 0x2070),
        0xFEFF,
    ]
)
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_SLACK_ID = re.compile(r"[UW][A-Z0-9]{1,20}")
_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{1,20}")
_GROUP_ID = re.compile(r"S[A-Z0-9]{1,20}")


def clean(text: object) -> str:
    """The text without bidi overrides, zero-width characters and control characters."""
    return str(text).translate(_INVISIBLE)


def escape(text: object, keep: Iterable[str] = ()) -> str:
    """Untrusted text, safe to put in a Slack message: shown as typed, never as markup.

    ``keep`` names Slack users whose mention (``<@U…>``) stays a mention: the people a
    job's own text speaks of (who asked, who approved). Nothing else does.
    """
    out = clean(text).translate(_ESCAPES)
    if "&lt;@" in out:
        for user in keep:
            if _SLACK_ID.fullmatch(user):
                out = out.replace(f"&lt;@{user}&gt;", f"<@{user}>")
    return out


def unescape(text: str) -> str:
    """Text as Slack sends it in a slash command (``&lt;`` for ``<``) back to what was typed."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def mention(user: object) -> str:
    """A Slack user as a mention; anything that is not a Slack user id as escaped text."""
    text = str(user)
    return f"<@{text}>" if _SLACK_ID.fullmatch(text) else escape(text)


def channel(channel_id: object) -> str:
    text = str(channel_id)
    return f"<#{text}>" if _CHANNEL_ID.fullmatch(text) else escape(text)


def group(group_id: object) -> str:
    text = str(group_id)
    return f"<!subteam^{text}>" if _GROUP_ID.fullmatch(text) else escape(text)


def cut(text: str, limit: int) -> str:
    """At most ``limit`` characters, ending in "…" when cut; never half an escape or a mention."""
    if len(text) <= limit:
        return text
    head = text[: max(0, limit - len(ELLIPSIS))]
    amp = head.rfind("&", max(0, len(head) - 5))
    if amp >= 0 and ";" not in head[amp:]:
        head = head[:amp]  # "&am" would show as text
    lt = head.rfind("<", max(0, len(head) - 200))
    if lt >= 0 and ">" not in head[lt:]:
        head = head[:lt]  # half a <@U…> or <#C…>
    if head.count("```") % 2:
        head = head[: head.rfind("```")]
    return head + ELLIPSIS


def _cut_text_object(obj: Any, limit: int) -> None:
    if isinstance(obj, dict) and isinstance(obj.get("text"), str):
        obj["text"] = cut(obj["text"], limit) or " "


def _fit_confirm(confirm: Any) -> None:
    if not isinstance(confirm, dict):
        return
    _cut_text_object(confirm.get("title"), CONFIRM_TITLE)
    _cut_text_object(confirm.get("text"), CONFIRM_TEXT)
    _cut_text_object(confirm.get("confirm"), CONFIRM_BUTTON)
    _cut_text_object(confirm.get("deny"), CONFIRM_BUTTON)


def _fit_block(block: dict[str, Any]) -> dict[str, Any]:
    kind = block.get("type")
    if isinstance(block.get("block_id"), str):
        block["block_id"] = block["block_id"][:BLOCK_ID]
    if kind == "section":
        _cut_text_object(block.get("text"), SECTION_TEXT)
        if isinstance(block.get("fields"), list):
            block["fields"] = block["fields"][:FIELDS]
            for f in block["fields"]:
                _cut_text_object(f, FIELD_TEXT)
    elif kind == "header":
        _cut_text_object(block.get("text"), HEADER_TEXT)
    elif kind == "context" and isinstance(block.get("elements"), list):
        block["elements"] = block["elements"][:CONTEXT_ELEMENTS]
        for e in block["elements"]:
            _cut_text_object(e, CONTEXT_TEXT)
    elif kind == "actions" and isinstance(block.get("elements"), list):
        block["elements"] = block["elements"][:ACTION_ELEMENTS]
        for e in block["elements"]:
            if isinstance(e, dict):
                _cut_text_object(e.get("text"), BUTTON_TEXT)
                _fit_confirm(e.get("confirm"))
    return block


def fit_blocks(blocks: list[dict[str, Any]], limit: int = BLOCKS) -> list[dict[str, Any]]:
    """The blocks cut to Slack's limits (texts, fields, elements, at most ``limit`` blocks).

    The last safety net, not the way messages are made short: ``bot.blocks`` builds every
    message with slack_sdk's models, cut to the limits (with "…and N more" lines) where it
    is built. This still catches blocks built as plain dicts elsewhere, and a count of
    blocks past Slack's limit. When there are too many blocks, the last one kept says so;
    the buttons, if any, are kept (they are the next step), the middle is what goes.
    """
    fitted = [_fit_block(dict(b)) for b in blocks if isinstance(b, dict)]
    if len(fitted) <= limit:
        return fitted
    actions = [b for b in fitted if b.get("type") == "actions"][-1:]
    keep = fitted[: limit - 1 - len(actions)]
    hidden = len(fitted) - len(keep) - len(actions)
    text = ngettext("{n} more not shown", "{n} more not shown", hidden).format(n=hidden)
    note = {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}
    return [*keep, note, *actions]


def fit_text(text: str) -> str:
    """A message's top-level ``text`` (notification and fallback) within Slack's limit."""
    return cut(text, MESSAGE_TEXT)


# Only commands that do the same in Slack: `backupbot files verify` lists every bad file,
# `/backup files verify` the first few, so a hint that it "lists all" stays a CLI hint.
_CLI_HINT = re.compile(r"`backupbot (list|dump|prune|status|files sync)([^`\n]{0,200})`")


def chat_commands(text: str) -> str:
    """Hints naming CLI commands (`backupbot list`) as the `/backup` commands people type in chat.

    Engine errors are shared with the CLI and name its commands; a person reading them in
    Slack (or the console, which speaks `/backup`) needs the command they can type there.
    Break-glass restores stay CLI commands: they are for when Slack itself is down.
    """

    def swap(m: re.Match[str]) -> str:
        args = m.group(2).replace(" --json", "").replace("--database ", "")
        return f"`/backup {m.group(1)}{args}`"

    return _CLI_HINT.sub(swap, text)
