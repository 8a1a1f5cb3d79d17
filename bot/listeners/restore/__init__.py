"""Approve / Deny buttons on restore requests."""

from __future__ import annotations

from slack_bolt import App

from bot.listeners.restore.buttons import approve_clicked, deny_clicked
from bot.restore_render import APPROVE_ACTION, DENY_ACTION


def register(app: App) -> None:
    app.action(APPROVE_ACTION)(approve_clicked)
    app.action(DENY_ACTION)(deny_clicked)
