"""People as people: Slack user ids become names outside Slack, mentions inside it.

Slack renders ``<@U0…>`` as the person's name, so everything the bot posts uses mentions.
A terminal, a runbook file or ``backupbot list`` would show the bare id, which nobody
recognises at 3 a.m. The bot learns each person's name from the requests Slack sends it
(a slash command carries ``user_name``, a click ``user.username``) and keeps it in the
store (``person:U0…`` in kv), so the console, the CLI and the runbook entries that share
the state directory can say "ana (U0DEV)" instead of "U0DEV".
"""

from __future__ import annotations

import json
import re
from typing import Any

from jobs.store import Store, open_existing_store

KEY_PREFIX = "person:"
SLACK_ID = re.compile(r"^[UW][A-Z0-9]+$")
_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")


def is_slack_id(text: str) -> bool:
    return bool(SLACK_ID.match(text or ""))


def remember(store: Store, user_id: str, name: str | None) -> None:
    """Record ``user_id``'s name if it is new or changed (one read per request, a write rarely)."""
    name = " ".join((name or "").split())[:80]
    if not is_slack_id(user_id) or not name or name == user_id:
        return
    if store.kv_get(KEY_PREFIX + user_id) != name:
        store.kv_set(KEY_PREFIX + user_id, name)


def names(store: Store) -> dict[str, str]:
    rows = store.db.query("SELECT key, value FROM kv WHERE key LIKE ?", [KEY_PREFIX + "%"])
    return {r["key"][len(KEY_PREFIX) :]: str(json.loads(r["value"])) for r in rows}


def names_if_store(cfg: Any) -> dict[str, str]:
    """The names the bot learned, for the CLI: empty when this machine has no store."""
    store = open_existing_store(cfg)
    if store is None:
        return {}
    try:
        return names(store)
    finally:
        store.close()


def display(user: str, known: dict[str, str]) -> str:
    """'ana (U0DEV)' for a known id, the id itself otherwise, anything else unchanged."""
    name = known.get(user)
    return f"{name} ({user})" if name else user


def plain_mentions(text: str, known: dict[str, str]) -> str:
    """``<@U0DEV>`` → ``@ana`` (or ``@U0DEV`` when the name is not known)."""
    return _MENTION.sub(lambda m: "@" + known.get(m.group(1), m.group(1)), text)
