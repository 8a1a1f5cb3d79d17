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
from core.i18n import N_, _

SAFETY_LABEL = N_("Safety dump of what was there before")
# The surfaces a restore comes through (RunbookEntry.via), marked so the entry can name them in words.
VIA = (N_("Slack"), N_("console"), N_("break-glass CLI"), N_("scheduled drill"))


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
    safety_label: str = SAFETY_LABEL  # Neon: the preserved branch (an N_ constant, translated in render)
    notes: tuple[str, ...] = ()  # more lines, already in words: e.g. the roles a restore created

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
    """The entry in the configured language; the step statuses come already in words."""
    took = (entry.finished_at - entry.started_at).total_seconds()
    headline = (_("## Restore {id}: succeeded") if entry.succeeded else _("## Restore {id}: FAILED")).format(
        id=entry.restore_id
    )
    asked = (
        _("- Asked by: {who}, reason: {reason}").format(who=entry.requested_by, reason=entry.reason)
        if entry.reason
        else _("- Asked by: {who}").format(who=entry.requested_by)
    )
    lines = [
        headline,
        "",
        _("- When: {when} UTC, took {took}").format(
            when=f"{entry.started_at.astimezone(UTC):%Y-%m-%d %H:%M:%S}", took=_seconds(took)
        ),
        _("- Target: {target} ({where})").format(target=entry.target, where=entry.target_where),
        _("- Backup: {id} ({line})").format(id=entry.backup_id, line=entry.backup_line),
        asked,
        _("- Approved by: {who}").format(who=", ".join(entry.approved_by) or _("nobody (break glass)")),
        _("- Via: {via}").format(via=_(entry.via)),
        "- {label}: {id}".format(
            label=_(entry.safety_label), id=entry.safety_id or _("none (the target was not touched)")
        ),
        _("- Target now: {state}").format(state=entry.state),
    ]
    if entry.next_action:
        lines.append(_("- Next: {action}").format(action=entry.next_action))
    if entry.undo_command:
        lines.append(_("- Undo: `{command}`").format(command=entry.undo_command))
    lines += [f"- {note}" for note in entry.notes]
    lines += ["", _("| # | Step | Result | Duration | Detail |"), "|---|---|---|---|---|"]
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
            _("cannot append the runbook entry to {path}").format(path=path),
            detail=exc.strerror,
            hint=_(
                "Check runbook_file in the config and that the bot may write there; the entry is in the bucket."
            ),
        ) from None


def keep(storage: Storage, entry: RunbookEntry, text: str, runbook_file: str) -> tuple[str, list[str]]:
    """Store the entry in the bucket and append it to the database's runbook file, come what may.

    One failing place never stops the other (the entry is also posted in Slack); returns the
    bucket key ("" if it could not be stored) and what went wrong, one line per place.
    """
    key, problems = "", []
    try:
        key = store(storage, entry, text)
    except Exception as exc:  # noqa: BLE001 - the entry is still posted and appended to the file
        problems.append(
            _("bucket: {error}").format(
                error=exc.message if isinstance(exc, BackupbotError) else type(exc).__name__
            )
        )
    if runbook_file:
        try:
            append_to_file(runbook_file, text)
        except BackupbotError as exc:
            problems.append(_("file: {error}").format(error=exc.message))
    return key, problems
