"""User-facing errors in WAL-E's message / detail / hint shape.

An on-call engineer reading a failure at 3 a.m. needs three things: what went wrong,
the specifics (which database, which setting, which file), and what to do next.
Every error that can reach a person is a ``BackupbotError`` so the CLI, the Slack
messages and the job records can all render those three parts the same way, and
nothing else (a traceback, a URL with a password) leaks out.
"""

from __future__ import annotations

from typing import Any

from core.i18n import _


class BackupbotError(Exception):
    """An error meant to be read by a person; ``hint`` says what to do next."""

    exit_code = 1

    def __init__(self, message: str, detail: str | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail
        self.hint = hint

    def __str__(self) -> str:
        return self.render()

    def render(self) -> str:
        lines = [_("ERROR: {message}").format(message=self.message)]
        if self.detail:
            lines.append(_("DETAIL: {detail}").format(detail=self.detail))
        if self.hint:
            lines.append(_("HINT: {hint}").format(hint=self.hint))
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "error": type(self).__name__,
            "message": self.message,
            "detail": self.detail,
            "hint": self.hint,
        }


class ConfigError(BackupbotError):
    """A setting is missing or wrong; nothing was changed."""

    exit_code = 2


class UsageError(BackupbotError):
    """A command was typed wrong; nothing was changed."""

    exit_code = 2


class PreflightError(BackupbotError):
    """A check before writing anything failed; nothing was written."""


class StorageError(BackupbotError):
    """Object storage refused or failed an operation."""


class DumpError(BackupbotError):
    """pg_dump or the upload pipeline failed; no backup was recorded."""


class IntegrityError(BackupbotError):
    """A stored backup does not decrypt or does not match its manifest."""


class NotFoundError(BackupbotError):
    """A backup, job or database that was asked for does not exist."""


class RestoreError(BackupbotError):
    """A restore step failed; the message says what state the target is in."""
