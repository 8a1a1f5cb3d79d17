"""What a restore is and what it leaves behind: the request, the eight steps and the report.

This is the shape the surfaces read — the Slack job and the break-glass CLI show each
``StepRecord`` as it changes and the final ``RestoreReport`` — and the runbook entry is
written from. It is kept apart from the step machinery in ``restore.py`` so that how a
step runs can change without touching what a restore reports, and the other way round.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.i18n import N_, _
from engine.manifest import Manifest

# (key, title): the key is what code and the store compare; the title is shown, translated with _().
STEPS: tuple[tuple[str, str], ...] = (
    ("lock", N_("Lock target")),
    ("safety_dump", N_("Safety dump")),
    ("maintenance_on", N_("Maintenance on")),
    ("restore", N_("Restore")),
    ("migrate", N_("Migrate")),
    ("health", N_("Health checks")),
    ("maintenance_off", N_("Maintenance off")),
    ("runbook", N_("Runbook entry")),
)
# Only for a backup with roles stored beside it (globals = true): right before the restore.
ROLES_STEP: tuple[str, str] = ("roles", N_("Create missing roles"))


def with_roles(steps: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """``steps`` with the roles step inserted before the restore step."""
    at = next(i for i, (key, _title) in enumerate(steps) if key == "restore")
    return (*steps[:at], ROLES_STEP, *steps[at:])


@dataclass(frozen=True)
class RestoreRequest:
    backup_id: str
    target: str
    requested_by: str
    approved_by: tuple[str, ...] = ()
    reason: str = ""
    via: str = "Slack"  # or "break-glass CLI"
    job_id: int | None = None
    names: tuple[tuple[str, str], ...] = ()  # (Slack user id, name) for the runbook entry


@dataclass
class StepRecord:
    number: int
    key: str
    title: str
    status: str = "not run"  # running, ok, failed, skipped, not run: keys, shown with status_text()
    seconds: float | None = None
    detail: str = ""
    attachment: str = ""  # the runbook entry itself, on the last step: surfaces post it
    total: int = 8  # how many steps this run has (a swap restore has nine)


@dataclass
class RestoreReport:
    restore_id: str
    request: RestoreRequest
    backup: Manifest
    started_at: datetime
    steps: list[StepRecord]
    mode: str = ""
    safety_id: str | None = None
    state: str = ""
    succeeded: bool = False
    runbook_text: str = ""
    runbook_key: str = ""
    error: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def step(self, key: str) -> StepRecord:
        return next(s for s in self.steps if s.key == key)


STATUS_TEXT = {
    "running": N_("running"),
    "ok": N_("ok"),
    "failed": N_("failed"),
    "skipped": N_("skipped"),
    "not run": N_("not run"),
}


def status_text(status: str) -> str:
    """A step's status as people read it (the status itself stays the English key)."""
    if status not in STATUS_TEXT:
        return status
    text = STATUS_TEXT[status]
    return _(text)


StepCallback = Callable[[StepRecord], None]
ProgressCallback = Callable[[str], None]


def success_state(report: RestoreReport) -> str:
    """What the target is now, naming only the steps that really ran."""
    migrated = report.step("migrate").status == "ok"
    checked = report.step("health").status == "ok"
    if migrated and checked:
        return _("restored, migrated, checked and back in service")
    if migrated:
        return _("restored, migrated and back in service")
    if checked:
        return _("restored, checked and back in service")
    return _("restored and back in service")
