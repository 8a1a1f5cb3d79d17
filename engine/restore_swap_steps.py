"""The swap method's part of a restore run: build into a new database, switch it in, clean up.

Kept apart from ``restore.py`` (the step machinery both methods share) as a mixin of the
run, so the order of steps and how each is reported stay in one place while what a swap
does to databases lives here.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from adapters import pg_databases, pg_restore
from adapters.pg_restore_overlap import restore_overlapped
from core.errors import BackupbotError
from core.i18n import _
from core.units import human_bytes
from engine import restore_swap
from engine.decrypt import iter_plain
from engine.restore_plan import staging_dir
from engine.restore_report import StepRecord

if TYPE_CHECKING:
    from adapters.storage import Storage
    from core.config import Config, DatabaseConfig
    from engine.manifest import Manifest
    from engine.restore_plan import RestoreState
    from engine.restore_report import ProgressCallback, RestoreReport, RestoreRequest


class SwapSteps:
    """Mixed into the restore run; uses its config, request, report, state and callbacks."""

    if TYPE_CHECKING:
        cfg: Config
        db: DatabaseConfig
        req: RestoreRequest
        report: RestoreReport
        backup: Manifest
        state: RestoreState | None
        storage: Storage
        url: str
        method: str
        names: restore_swap.SwapNames
        switched: bool
        on_progress: ProgressCallback

    def _build(self, rec: StepRecord, mode: str, why: str) -> None:
        """Swap: the backup goes into a new, empty database; the target is not touched."""
        names, report = self.names, self.report
        restore_swap.remember(
            self.state,
            report.restore_id,
            phase="building",
            target=self.req.target,
            target_db=names.target,
            new=names.new,
            previous=names.previous,
            job_id=self.req.job_id,
            safety_id=report.safety_id,
            backup_id=self.backup.id,
        )
        restore_swap.prepare(self.url, names)
        new_url = pg_databases.with_dbname(self.url, names.new)
        started = time.monotonic()

        def progress(done: int) -> None:
            rate = done / max(time.monotonic() - started, 0.001)
            self.on_progress(
                _("{done} of {total} · {rate}/s").format(
                    done=human_bytes(done), total=human_bytes(self.backup.dump_bytes), rate=human_bytes(rate)
                )
            )

        chunks = iter_plain(self.cfg, self.backup, self.storage)
        opts = {"owner": self.db.restore_owner, "maintenance_work_mem": self.db.restore_maintenance_work_mem}
        if mode == "staged":
            result = restore_overlapped(
                new_url,
                names.new,
                chunks,
                staging_dir(self.cfg),
                jobs=self.db.restore_jobs,
                on_progress=progress,
                **opts,
            )
        else:
            result = pg_restore.restore_stream(
                new_url, names.new, chunks, on_progress=progress, clean=False, **opts
            )
        restore_swap.remember(self.state, report.restore_id, phase="built")
        report.mode = f"swap, {result.mode}"
        rec.detail = _(
            "{size} into the new database {new}, {mode} in {seconds} s ({why}); {target} not touched"
        ).format(
            size=human_bytes(result.bytes),
            new=names.new,
            mode=result.said,
            seconds=f"{result.seconds:.1f}",
            why=why,
            target=names.target,
        )

    def switch(self, rec: StepRecord) -> None:
        names = self.names
        done = restore_swap.switch(
            self.url, names, self.db, self.state, self.report.restore_id, datetime.now(UTC)
        )
        self.switched = True
        self.report.extra.update(switch_seconds=round(done.seconds, 3), previous_db=names.previous)
        values = {
            "new": names.new,
            "target": names.target,
            "previous": names.previous,
            "hours": f"{self.db.keep_previous_hours:g}",
            "seconds": f"{done.seconds:.2f}",
            "n": done.sessions,
        }
        if done.sessions:
            rec.detail = _(
                "{new} is now {target} (owner, settings, grants and comment carried over); the replaced database "
                "is kept as {previous} for {hours} h; unavailable for {seconds} s, {n} sessions ended"
            ).format(**values)
        else:
            rec.detail = _(
                "{new} is now {target} (owner, settings, grants and comment carried over); the replaced database "
                "is kept as {previous} for {hours} h; unavailable for {seconds} s"
            ).format(**values)

    def writing_new(self) -> bool:
        return (
            restore_swap.records(self.state).get(self.report.restore_id, {}).get("phase")
            in (
                "building",
                "built",
                "switching",
            )
            or self.state is None
        )

    def _discard(self) -> None:
        """A swap stopped before its switch: drop the new database (never the target) and say so."""
        try:
            restore_swap.discard(self.url, self.names)
            restore_swap.remember(self.state, self.report.restore_id, phase="discarded")
        except BackupbotError as exc:
            self.report.extra["discard_error"] = exc.message

    def _maintenance_ran(self) -> bool:
        return self.report.step("maintenance_on").status in ("ok", "failed")

    def _work_url(self) -> str:
        """Where migrate and the health checks run: the new database until a swap switched it in."""
        if self.method == "swap" and not self.switched:
            return pg_databases.with_dbname(self.url, self.names.new)
        return self.url
