"""Freezes: a database's leads stop every destructive operation on it during an incident or an audit.

A freeze is one row in the store's kv table (``freeze:DB``) holding who froze it, when and
why; setting and clearing it writes an audit row in the same transaction. While it is set,
restores (requested, approved, queued or break-glass), prunes (typed, scheduled or from the
CLI) and branch deletions are refused, each with a ``Frozen`` error that says who froze the
database, when and why, and how the freeze ends. Dumps keep running: a freeze is for keeping
what is there, and a new backup never overwrites anything.

Other modules call ``check_not_frozen(store, db, "prune")`` right before they act, or
``is_frozen(store, db)`` when they only need to know.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from core.errors import BackupbotError
from core.i18n import N_, _
from core.slack_text import escape
from jobs.audit import utcnow, write_audit
from jobs.store import Store

KEY_PREFIX = "freeze:"

# What a refusal says, per action (the action itself is a key: it goes into the audit row).
_REFUSED = {
    "restore": N_("'{db}' is frozen: no restore until a lead unfreezes it"),
    "prune": N_("'{db}' is frozen: no prune until a lead unfreezes it"),
    "restore drill": N_("'{db}' is frozen: no restore drill until a lead unfreezes it"),
    "undo": N_("'{db}' is frozen: no undo until a lead unfreezes it"),
}
_REFUSED_OTHER = N_("'{db}' is frozen: no {action} until a lead unfreezes it")


class Frozen(BackupbotError):
    """The database is frozen; nothing was changed.

    Its text is built as Slack markup (the freezer's mention, the reason escaped): ``slack_safe``.
    """

    slack_safe = True


@dataclass(frozen=True)
class Freeze:
    database: str
    by: str  # a Slack user id, or user@host for the CLI
    at: str  # ISO 8601 UTC
    reason: str

    @property
    def when(self) -> str:
        """'2026-12-05 04:50 UTC' — what people read."""
        return f"{self.at[:16].replace('T', ' ')} UTC"

    @property
    def who(self) -> str:
        """The freezer as Slack shows them: a mention for a Slack id, the CLI's user@host escaped."""
        return f"<@{self.by}>" if self.by[:1] in ("U", "W") and self.by.isalnum() else _escape(self.by)

    def describe(self) -> str:
        """'frozen by <@U1> since 2026-12-05 04:50 UTC: "incident 42"' (the reason escaped for Slack).

        A phrase that follows the database's name ("`prod` is …"); a translation keeps it
        usable there (Spanish: "congelada por …").
        """
        return _('frozen by {who} since {when}: "{reason}"').format(
            who=self.who, when=self.when, reason=self.shown_reason
        )

    def sentence(self) -> str:
        """'prod is frozen by <@U1> since …: "incident 42".' — the whole sentence, for step lines."""
        return _('{db} is frozen by {who} since {when}: "{reason}".').format(
            db=self.database, who=self.who, when=self.when, reason=self.shown_reason
        )

    @property
    def shown_reason(self) -> str:
        return _escape(self.reason)

    def as_dict(self) -> dict[str, str]:
        return {"database": self.database, "by": self.by, "at": self.at, "reason": self.reason}


def _escape(text: str) -> str:
    """Slack reads ``<…>`` as links and mentions; a reason typed by a person must not become one."""
    return escape(text)


def _key(database: str) -> str:
    return f"{KEY_PREFIX}{database}"


def _from_value(database: str, value: Any) -> Freeze | None:
    if not isinstance(value, dict):
        return None
    return Freeze(database, str(value.get("by", "")), str(value.get("at", "")), str(value.get("reason", "")))


def is_frozen(store: Store, database: str) -> Freeze | None:
    """The database's freeze, or None; truthy exactly when destructive work must be refused."""
    return _from_value(database, store.kv_get(_key(database)))


def all_freezes(store: Store) -> list[Freeze]:
    rows = store.db.query("SELECT key, value FROM kv WHERE key LIKE ? ORDER BY key", [KEY_PREFIX + "%"])
    out = []
    for row in rows:
        found = _from_value(row["key"][len(KEY_PREFIX) :], json.loads(row["value"]))
        if found:
            out.append(found)
    return out


def frozen_error(freeze: Freeze, action: str) -> Frozen:
    """What a refused request says: which database, who froze it, when, why, and how it ends."""
    refused = _REFUSED.get(action)
    message = (
        _(refused).format(db=freeze.database)
        if refused
        else _(_REFUSED_OTHER).format(db=freeze.database, action=action)
    )
    return Frozen(
        message,
        detail=_(
            '{db} was frozen by {who} since {when}: "{reason}". Nothing was changed. Backups still run.'
        ).format(db=freeze.database, who=freeze.who, when=freeze.when, reason=freeze.shown_reason),
        hint=_("When the incident or audit is over, one of its leads runs `/backup unfreeze {db}`.").format(
            db=freeze.database
        ),
    )


def check_not_frozen(
    store: Store, database: str, action: str, *, actor: str = "", job_id: int | None = None
) -> None:
    """Raise ``Frozen`` (and audit the refusal) if ``database`` is frozen; ``action`` e.g. "restore"."""
    freeze = is_frozen(store, database)
    if freeze is None:
        return
    store.audit(job_id, "refused_frozen", actor or "system", {"action": action, **freeze.as_dict()})
    raise frozen_error(freeze, action)


def freeze(store: Store, database: str, actor: str, reason: str) -> tuple[Freeze, bool]:
    """Freeze ``database``; returns the freeze in force and whether this call set it."""
    with store.transaction() as db:
        current = _from_value(database, store.kv_get(_key(database)))
        if current is not None:
            return current, False
        new = Freeze(database, actor, utcnow(), reason)
        db["kv"].upsert(
            {"key": _key(database), "value": json.dumps(new.as_dict()), "updated_at": new.at}, pk="key"
        )
        write_audit(db, None, "frozen", actor, None, None, new.as_dict())
    return new, True


def unfreeze(store: Store, database: str, actor: str) -> Freeze | None:
    """Lift the freeze; returns the freeze that was lifted, or None when there was none."""
    with store.transaction() as db:
        current = _from_value(database, store.kv_get(_key(database)))
        if current is None:
            return None
        db.execute("DELETE FROM kv WHERE key = ?", [_key(database)])
        write_audit(db, None, "unfrozen", actor, None, None, {**current.as_dict(), "lifted_by": actor})
    return current
