"""Slash commands."""

from __future__ import annotations

from slack_bolt import App

from bot.listeners.commands.backup import COMMAND, backup_command


def register(app: App) -> None:
    app.command(COMMAND)(backup_command)
