"""Numbers as people read them in Slack messages, terminal tables and error hints.

One formatter, so a backup's size reads the same in a dump's progress line, a restore
preflight and ``backupbot list``.
"""

from __future__ import annotations


def human_bytes(n: float) -> str:
    """Binary units with one decimal (``1.5 MB``); whole bytes below 1 KB."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"
