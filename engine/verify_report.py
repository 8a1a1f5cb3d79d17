"""What a verification is and leaves behind: its four steps, the report, the failure.

Kept apart from the step machinery in ``verify.py`` (as ``restore_report.py`` is for the
restore): the job, the CLI, the drill and the bucket record read these shapes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from core.errors import IntegrityError
from core.i18n import N_
from engine.manifest import Manifest

# (key, title): the key is stable (records, drill comparisons), the title is translated where a run starts.
STEPS: tuple[tuple[str, str], ...] = (
    ("integrity", N_("Integrity")),
    ("contents", N_("Contents")),
    ("restore", N_("Restore and count rows")),
    ("cleanup", N_("Drop scratch database")),
)


@dataclass
class VerifyStep:
    number: int
    key: str
    title: str
    status: str = "not run"  # running, ok, failed, skipped, not run
    seconds: float | None = None
    detail: str = ""


@dataclass
class VerifyReport:
    backup: Manifest
    started_at: datetime
    steps: list[VerifyStep]
    purpose: str = "verify"
    scratch: str = ""
    result: str = "running"  # passed or failed
    failed_step: int | None = None
    error: dict[str, Any] | None = None
    record_key: str = ""
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)  # restored vs recorded rows

    def step(self, key: str) -> VerifyStep:
        return next(s for s in self.steps if s.key == key)

    @property
    def passed(self) -> bool:
        return self.result == "passed"

    @property
    def seconds(self) -> float:
        return sum(s.seconds or 0 for s in self.steps)

    def outcome(self) -> dict[str, Any]:
        """What is stored in the bucket and printed by ``backupbot verify --json``."""
        return {
            "backup_id": self.backup.id,
            "database": self.backup.database,
            "purpose": self.purpose,
            "verified_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "started_at": self.started_at.isoformat(timespec="seconds"),
            "result": self.result,
            "failed_step": self.failed_step,
            "error": self.error,
            "seconds": round(self.seconds, 3),
            "steps": [asdict(s) | {"seconds": round(s.seconds or 0, 3)} for s in self.steps],
            "scratch_database": self.scratch,
            "tables": self.tables,
        }


class VerifyFailed(IntegrityError):
    """Verification of a backup failed at a step; carries the report."""

    def __init__(
        self,
        message: str,
        detail: str | None = None,
        hint: str | None = None,
        report: VerifyReport | None = None,
    ) -> None:
        super().__init__(message, detail=detail, hint=hint)
        self.report = report  # type: ignore[assignment]


StepCallback = Callable[[VerifyStep], None]
