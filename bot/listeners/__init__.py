"""Bolt listeners, one package per kind of Slack request, each with ``register(app)``.

Adding a listener package is one line here. Listeners only parse, check, enqueue and
ack; anything slow happens after the ack (``respond``) or in the runner.
"""

from __future__ import annotations

import importlib

from slack_bolt import App

LISTENERS = [
    "bot.listeners.commands",
    "bot.listeners.actions",
    "bot.listeners.restore",
    "bot.listeners.home",
]


def register_all(app: App) -> None:
    for module in LISTENERS:
        importlib.import_module(module).register(app)
