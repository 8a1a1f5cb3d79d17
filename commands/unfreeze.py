"""`/backup unfreeze [DB]`: end a freeze; see ``commands.freeze``."""

from __future__ import annotations

from commands.freeze import UNFREEZE

SPEC = UNFREEZE
