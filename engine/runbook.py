"""Writing each restore down: one Markdown entry, in the bucket and in the team's own file.

The old runbook ended with "document each restore in CHANGELOG.md"; it was the step that
got skipped at 4 a.m. Here the entry is built from what the run recorded, so it cannot be
forgotten or embellished: who asked, who approved, what was restored where, each step with
its result and duration, and the safety dump that undoes it. The bucket copy survives the
bot's disk; the file copy lives where the team already looks.
"""

from __future__ import annotations

import fcntl
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from adapters.storage import Storage
from core.errors import BackupbotError


@dataclass(frozen=True)
class StepLine:
    number: int
    title: str
    status: str  # ok, failed, skipped, not run
    seconds: float | None
    detail: str


@dataclass(frozen=True)
class RunbookEntry:
    restore_id: str
    target: str
    target_where: str  # user@host:port/dbname
    backup_id: str
    backup_line: str  # "database prod, kind daily, taken … by …, 1.2 MB"
    requested_by: str
    approved_by: tuple[str, ...]
    reason: str
    via: str  # "Slack" or "break-glass CLI"
    started_at: datetime
    finished_at: datetime
    succeeded: bool
    state: str  # the target's state in words
    safety_id: str | None
    undo_command: str | None
    next_action: str | None
    steps: Sequence[StepLine]
    safety_label: str = "Safety dump of what was there before"  # Neon: the preserved branch

    @property
    def key(self) -> str:
        """``runbook/{database}/{YYYY}/{id}.md``, beside the backups it talks about."""
        return f"runbook/{self.target}/{self.started_at.astimezone(UTC):%Y}/{self.restore_id}.md"


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 60:
        return f"{value:.1f} s"
    minutes, secs = divmod(int(round(value)), 60)
    return f"{minutes} min {secs:02d} s"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")[:300] or "-"


def render(entry: RunbookEntry) -> str:
    verdict = "succeeded" if entry.succeeded else "FAILED"
    took = (entry.finished_at - entry.started_at).total_seconds()
    lines = [
        f"## Restore {entry.restore_id}: {verdict}",
        "",
        f"- When: {entry.started_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC, took {_seconds(took)}",
        f"- Target: {entry.target} ({entry.target_where})",
        f"- Backup: {entry.backup_id} ({entry.backup_line})",
        f"- Asked by: {entry.requested_by}" + (f", reason: {entry.reason}" if entry.reason else ""),
        f"- Approved by: {', '.join(entry.approved_by) or 'nobody (break glass)'}",
        f"- Via: {entry.via}",
        f"- {entry.safety_label}: {entry.safety_id or 'none (the target was not touched)'}",
        f"- Target now: {entry.state}",
    ]
    if entry.next_action:
        lines.append(f"- Next: {entry.next_action}")
    if entry.undo_command:
        lines.append(f"- Undo: `{entry.undo_command}`")
    lines += ["", "| # | Step | Result | Duration | Detail |", "|---|---|---|---|---|"]
    for s in entry.steps:
        lines.append(f"| {s.number} | {s.title} | {s.status} | {_seconds(s.seconds)} | {_cell(s.detail)} |")
    return "\n".join(lines) + "\n"


def store(storage: Storage, entry: RunbookEntry, text: str) -> str:
    storage.put_bytes(entry.key, text.encode(), content_type="text/markdown; charset=utf-8", create_only=True)
    return entry.key


def append_to_file(path: str, text: str) -> None:
    """Append under an exclusive lock, so two restores finishing together do not interleave."""
    try:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("a", encoding="utf-8") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            if fh.tell() > 0:
                fh.write("\n")
            fh.write(text)
    except OSError as exc:
        raise BackupbotError(
            f"cannot append the runbook entry to {path}",
            detail=exc.strerror,
            hint="Check runbook_file in the config and that the bot may write there; the entry is in the bucket.",
        ) from None
