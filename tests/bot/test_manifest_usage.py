"""manifest.yml's usage hint, the first thing a person sees after typing /backup, names every subcommand."""

from __future__ import annotations

from pathlib import Path

import yaml

from commands.registry import subcommands

MANIFEST = Path(__file__).resolve().parents[2] / "manifest.yml"


def test_usage_hint_lists_every_subcommand_in_help_order() -> None:
    app = yaml.safe_load(MANIFEST.read_text())
    (command,) = [c for c in app["features"]["slash_commands"] if c["command"] == "/backup"]
    assert command["usage_hint"].split(" | ") == list(subcommands())
    assert len(command["usage_hint"]) <= 1000 and len(command["description"]) <= 2000
