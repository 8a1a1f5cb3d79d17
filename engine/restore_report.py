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

from engine.manifest import Manifest

STEPS: tuple[tuple[str, str], ...] = (
    ("lock", "Lock target"),
    ("safety_dump", "Safety dump"),
    ("maintenance_on", "Maintenance on"),
    ("restore", "Restore"),
    ("migrate", "Migrate"),
    ("health", "Health checks"),
    ("maintenance_off", "Maintenance off"),
    ("runbook", "Runbook entry"),
)


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
    status: str = "not run"  # running, ok, failed, skipped, not run
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


StepCallback = Callable[[StepRecord], None]
ProgressCallback = Callable[[str], None]


def success_state(report: RestoreReport) -> str:
    """What the target is now, naming only the steps that really ran."""
    done = ["restored"]
    if report.step("migrate").status == "ok":
        done.append("migrated")
    if report.step("health").status == "ok":
        done.append("checked")
    return f"{', '.join(done)} and back in service"
