"""How the CLI prints: JSON for scripts, short text for people, errors as message/detail/hint."""

from __future__ import annotations

import json
import sys
from typing import Any

from core.errors import BackupbotError
from core.units import human_bytes


def emit_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, sort_keys=True, default=str)
    sys.stdout.write("\n")


def emit_error(err: BackupbotError, as_json: bool) -> None:
    if as_json:
        json.dump(err.as_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    print(err.render(), file=sys.stderr)


def human_size(n: float | None) -> str:
    """A size for a table cell; "-" where it is not known."""
    return "-" if n is None else human_bytes(n)
