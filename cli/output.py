"""How the CLI prints: JSON for scripts, short text for people, errors as message/detail/hint."""

from __future__ import annotations

import json
import sys
from typing import Any

from core.errors import BackupbotError


def emit_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, sort_keys=True, default=str)
    sys.stdout.write("\n")


def emit_error(err: BackupbotError, as_json: bool) -> None:
    if as_json:
        json.dump(err.as_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    print(err.render(), file=sys.stderr)


def human_size(n: float | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"
