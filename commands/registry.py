"""Every `/backup` subcommand, in the order help lists them.

Adding a subcommand is one module defining ``SPEC = Subcommand(...)`` and one line here.
"""

from __future__ import annotations

import importlib
from functools import cache

from commands.base import Subcommand

SUBCOMMANDS = [
    "commands.help",
    "commands.dump",
    "commands.listing",
    "commands.branch",
    "commands.branches",
    "commands.status",
    "commands.cancel",
    "commands.prune",
    "commands.restore",
    "commands.undo",
    "commands.verify",
    "commands.restore_table",
    "commands.approve",
    "commands.deny",
    "commands.files",
    "commands.freeze",
    "commands.unfreeze",
    "commands.history",
    "commands.doctor",
]


@cache
def subcommands() -> dict[str, Subcommand]:
    specs: dict[str, Subcommand] = {}
    for module in SUBCOMMANDS:
        spec: Subcommand = importlib.import_module(module).SPEC
        specs[spec.name] = spec
    return specs
