"""The monthly restore drill: the newest good backup through the whole runbook, timed step by step.

Why: the recovery time people quote is only true if someone restored recently. With a
``drill_target`` (staging) the drill runs the very runbook an emergency restore runs —
lock, safety dump, maintenance hooks, restore, migrate, health checks, runbook entry — so
every part of it is exercised, and its time is the recovery time. The config line naming
the target is the leads' standing approval, and the request, the runbook entry and the
audit trail say exactly that. Without a target the backup is restored into a scratch
database as ``verify`` does (``engine.verify``): less of the runbook, nothing touched.

Each drill's step times are kept (``DrillState``) so the next post shows them side by side.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from adapters.storage import Storage, open_storage
from core.config import Config
from core.errors import NotFoundError
from core.i18n import _
from engine import scratch, verify_record
from engine.catalog import list_backups
from engine.manifest import Manifest
from engine.restore import RestoreRequest, run_restore
from engine.restore_plan import RestoreFailed, RestoreState
from engine.restore_report import StepCallback
from engine.verify import StepCallback as VerifyStepCallback
from engine.verify import VerifyFailed, verify_backup


class DrillState(RestoreState, Protocol):
    """The restore's state (locks, kv) plus an audit trail."""

    def audit(
        self, job_id: int | None, event: str, actor: str, detail: dict[str, Any] | None = None
    ) -> None: ...


@dataclass
class DrillReport:
    database: str
    backup_id: str
    into: str  # the drill target's name, or the scratch database
    approval: str
    started_at: datetime
    steps: list[tuple[str, float]] = field(default_factory=list)  # (title, seconds) of each step that ran
    # The steps' stable keys, in the order of ``steps``: what the next drill compares by
    # (a title is in the team's language, which may change between two drills).
    keys: list[str] = field(default_factory=list)
    previous: dict[str, Any] | None = None
    runbook_key: str = ""
    succeeded: bool = False

    @property
    def seconds(self) -> float:
        return sum(s for _title, s in self.steps)

    def record(self) -> dict[str, Any]:
        keys = self.keys if len(self.keys) == len(self.steps) else [t for t, _s in self.steps]
        return {
            "at": self.started_at.isoformat(timespec="seconds"),
            "backup_id": self.backup_id,
            "into": self.into,
            "seconds": round(self.seconds, 3),
            "steps": [[k, round(s, 3)] for k, (_t, s) in zip(keys, self.steps, strict=True)],
        }


def standing_approval(cfg: Config, database: str) -> str:
    db = cfg.database(database)
    return _("standing approval: drill_target = {target} in [databases.{db}] of {path}").format(
        target=repr(db.drill_target), db=database, path=cfg.path
    )


def newest_good(cfg: Config, database: str, storage: Storage) -> Manifest:
    """The newest backup that is not known bad: no failed verification stored for it."""
    backups = [m for m in list_backups(cfg, database, storage) if getattr(m, "good", True) is not False]
    checked = verify_record.outcomes(storage, backups[:10])
    for m in backups:
        if (checked.get(m.id) or {}).get("result") != "failed":
            return m
    raise NotFoundError(
        _("there is no good backup of database '{db}' to drill with").format(db=database),
        detail=_("{n} backups listed; none without a failed verification.").format(n=len(backups)),
        hint=_("Take one with `/backup dump {db}` and verify it with `/backup verify latest {db}`.").format(
            db=database
        ),
    )


def _state_key(database: str) -> str:
    return f"drill:last:{database}"


def run_drill(
    cfg: Config,
    database: str,
    state: DrillState,
    book: scratch.ScratchBook,
    *,
    on_restore_step: StepCallback | None = None,
    on_verify_step: VerifyStepCallback | None = None,
    on_progress: Callable[[str], None] | None = None,
    cancel: threading.Event | None = None,
    job_id: int | None = None,
    storage: Storage | None = None,
) -> DrillReport:
    """Run the drill; returns its report, or raises the restore's or verification's failure.

    Either way the previous drill's times stay the comparison until one succeeds.
    """
    storage = storage or open_storage(cfg.storage)
    db = cfg.database(database)
    backup = newest_good(cfg, database, storage)
    previous = state.kv_get(_state_key(database))
    started = datetime.now(UTC)
    approval = (
        standing_approval(cfg, database)
        if db.drill_target
        else _("none needed: scratch database on the [verify] server")
    )
    report = DrillReport(
        database=database,
        backup_id=backup.id,
        into=db.drill_target or _("scratch database"),
        approval=approval,
        started_at=started,
        previous=previous,
    )
    state.audit(
        job_id,
        "drill_started",
        "scheduler",
        {"database": database, "backup_id": backup.id, "into": report.into, "approval": approval},
    )
    try:
        if db.drill_target:
            request = RestoreRequest(
                backup_id=backup.id,
                target=db.drill_target,
                requested_by=_("scheduler (monthly drill)"),
                approved_by=(approval,),
                reason=_("monthly restore drill of '{db}'").format(db=database),
                via=_("scheduled drill"),
                job_id=job_id,
            )
            restored = run_restore(
                cfg,
                request,
                state=state,
                on_step=on_restore_step,
                on_progress=on_progress,
                storage=storage,
                backup=backup,
                cancel=cancel,
            )
            ran = [s for s in restored.steps if s.status in ("ok", "skipped")]
            report.steps = [(s.title, s.seconds or 0.0) for s in ran]
            report.keys = [s.key for s in ran]
            report.runbook_key = restored.runbook_key
        else:
            verified = verify_backup(
                cfg,
                backup,
                book,
                storage=storage,
                on_step=on_verify_step,
                on_progress=on_progress,
                cancel=cancel,
                job_id=job_id,
                purpose="drill",
            )
            report.into = _("scratch database {name}").format(name=verified.scratch)
            report.steps = [(s.title, s.seconds or 0.0) for s in verified.steps]
            report.keys = [s.key for s in verified.steps]
    except (RestoreFailed, VerifyFailed) as exc:
        state.audit(
            job_id,
            "drill_failed",
            "scheduler",
            {"database": database, "backup_id": backup.id, "into": report.into, "error": exc.message},
        )
        raise
    report.succeeded = True
    state.kv_set(_state_key(database), report.record())
    state.audit(job_id, "drill_succeeded", "scheduler", report.record() | {"approval": approval})
    return report


def compare_lines(report: DrillReport) -> list[str]:
    """Each step's time beside the previous drill's: "Restore: 12.3 s (previous 11.9 s)".

    Compared by step key; a drill recorded before keys were kept named its steps by their
    English title, which is looked up as well.
    """
    before = dict((t, s) for t, s in (report.previous or {}).get("steps", []))
    keys = report.keys if len(report.keys) == len(report.steps) else [t for t, _s in report.steps]
    lines = []
    for key, (title, seconds) in zip(keys, report.steps, strict=True):
        prev = next((before[k] for k in (key, *_ENGLISH_TITLES.get(key, ())) if k in before), None)
        if prev is None:
            lines.append(_("{title}: {seconds} s").format(title=title, seconds=f"{seconds:.1f}"))
        else:
            lines.append(
                _("{title}: {seconds} s (previous {previous} s)").format(
                    title=title, seconds=f"{seconds:.1f}", previous=f"{prev:.1f}"
                )
            )
    return lines


def _english_titles() -> dict[str, tuple[str, ...]]:
    from engine import restore_report, verify_report

    titles: dict[str, tuple[str, ...]] = {}
    for key, title in (*verify_report.STEPS, *restore_report.STEPS):
        titles[key] = (*titles.get(key, ()), title)
    return titles


_ENGLISH_TITLES = _english_titles()
