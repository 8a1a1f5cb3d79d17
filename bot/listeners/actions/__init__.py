"""Button clicks (block actions)."""

from __future__ import annotations

from slack_bolt import App

from bot.listeners.actions.jobs import cancel_clicked, retry_clicked
from bot.render import CANCEL_ACTION, RETRY_ACTION


def register(app: App) -> None:
    app.action(CANCEL_ACTION)(cancel_clicked)
    app.action(RETRY_ACTION)(retry_clicked)
