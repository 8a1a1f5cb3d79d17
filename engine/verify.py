"""Prove a backup restores: integrity, contents, a real restore with row counts, then clean up.

1. Integrity — the stored object is read whole: every encrypted chunk must authenticate and
   the object's sha256 and size must equal the manifest's (``engine.decrypt``). The plain
   dump is staged to a local file on the way, so the later steps do not download it again.
2. Contents — ``pg_restore --list`` of that file must list every table the manifest
   recorded at dump time, and no fewer indexes, constraints, sequences or functions.
3. Restore — into a fresh scratch database on the verification server (``[verify]``;
   never a configured source or target, see ``engine.scratch``); every table must be
   there with exactly the rows counted in the dump's own snapshot. With
   ``row_counts = "estimate"`` the counts recorded are planner estimates, so only presence
   is checked and the counts are shown side by side.
4. Cleanup — the scratch database is dropped, whatever happened before; if this process
   dies first, the next one drops it (``engine.scratch.sweep``).

A failed step stops the run: later steps are "not run", except the cleanup, which always
runs if a scratch database was made. The outcome goes to the bucket beside the manifest
(``engine.verify_record``) whether it passed or not.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from adapters import pg_archive, pg_offsets, pg_restore
from adapters.pg_contents import ARCHIVE_KINDS, parse_archive_list
from adapters.storage import Storage, open_storage
from core.config import Config
from core.errors import BackupbotError, IntegrityError, PreflightError
from core.i18n import N_, _, ngettext
from core.redact import redact
from core.units import human_bytes
from engine import scratch, verify_record
from engine.decrypt import iter_plain
from engine.manifest import Manifest
from engine.restore_plan import staging_dir
from engine.steps import timed_step
from engine.verify_report import STEPS, StepCallback, VerifyFailed, VerifyReport, VerifyStep

__all__ = ["STEPS", "StepCallback", "VerifyFailed", "VerifyReport", "VerifyStep", "verify_backup"]

_KIND_NAMES = {
    "index": N_("indexes"),
    "constraint": N_("constraints"),
    "fk_constraint": N_("foreign keys"),
    "sequence": N_("sequences"),
    "function": N_("functions"),
}


def _kind_name(kind: str) -> str:
    name = _KIND_NAMES.get(kind)
    return _(name) if name else kind


class _Run:
    def __init__(
        self,
        cfg: Config,
        backup: Manifest,
        book: scratch.ScratchBook,
        storage: Storage,
        on_step: StepCallback | None,
        on_progress: Callable[[str], None] | None,
        cancel: threading.Event | None,
        job_id: int | None,
        purpose: str,
    ) -> None:
        self.cfg, self.backup, self.book, self.storage = cfg, backup, book, storage
        self.on_step = on_step or (lambda s: None)
        self.on_progress = on_progress or (lambda t: None)
        self.cancel = cancel or threading.Event()
        self.job_id = job_id
        self.report = VerifyReport(
            backup=backup,
            started_at=datetime.now(UTC),
            steps=[VerifyStep(i, k, _(t)) for i, (k, t) in enumerate(STEPS, 1)],
            purpose=purpose,
        )
        self.admin_url = ""

    @contextmanager
    def step(self, key: str) -> Iterator[VerifyStep]:
        with timed_step(self.report.step(key), self.on_step) as rec:
            yield rec

    def _check_cancel(self) -> None:
        if self.cancel.is_set():
            raise PreflightError(_("verification was cancelled"), hint=_("Run it again when ready."))

    # ------------------------------------------------------------------ steps

    def contents(self, rec: VerifyStep, path: Path) -> None:
        archive = parse_archive_list(pg_archive.list_archive(path))
        recorded = self.backup.contents
        if not recorded or "tables" not in recorded:
            rec.detail = _(
                "archive lists {n} tables; the manifest predates table lists, so nothing to compare with"
            ).format(n=len(archive.tables))
            return
        want = set(recorded.get("tables", {}))
        have = archive.tables
        problems = []
        if want - have:
            problems.append(
                _("the archive lacks table(s) recorded at dump time: {tables}").format(
                    tables=", ".join(sorted(want - have))
                )
            )
        if have - want:
            problems.append(
                _("the archive has table(s) the manifest does not list: {tables}").format(
                    tables=", ".join(sorted(have - want))
                )
            )
        counts = []
        for kind, recorded_n in sorted((recorded.get("objects") or {}).items()):
            if kind == "table" or kind not in ARCHIVE_KINDS:
                continue
            found = archive.count(kind)
            counts.append(f"{found} {_kind_name(kind)}")
            if found < int(recorded_n):
                problems.append(
                    _("{kind}: {found} in the archive, {recorded} at dump time").format(
                        kind=_kind_name(kind), found=found, recorded=recorded_n
                    )
                )
        if problems:
            raise IntegrityError(
                _("backup {id}: the archive does not hold what was dumped").format(id=self.backup.id),
                detail="; ".join(problems),
                hint=_("Do not rely on this backup; take a new one and verify it."),
            )
        rec.detail = _("{n} tables as recorded; {counts}").format(n=len(have), counts=", ".join(counts))

    def restore(self, rec: VerifyStep, path: Path) -> None:
        self.admin_url = scratch.server_url(self.cfg)
        made = scratch.create(
            self.admin_url,
            self.book,
            purpose=self.report.purpose,
            backup_id=self.backup.id,
            job_id=self.job_id,
        )
        self.report.scratch = made.name
        self._check_cancel()
        url = scratch.url_for(self.admin_url, made.name)
        jobs = self.cfg.verify.jobs if pg_offsets.add_data_offsets(path) else 1
        self.on_progress(
            _("pg_restore -j {jobs} into scratch database {name}").format(jobs=jobs, name=made.name)
        )
        run = pg_archive.restore_into(url, path, jobs=jobs)
        if run.code != 0:
            raise IntegrityError(
                _("backup {id} did not restore cleanly into a scratch database").format(id=self.backup.id),
                detail=_("pg_restore exited with {code}:").format(code=run.code) + "\n" + run.stderr,
                hint=_(
                    "Read pg_restore's errors above; a missing extension or role on the verification server "
                    "is a setup problem, anything else means this backup would not restore either."
                ),
            )
        recorded = (self.backup.contents or {}).get("tables") or {}
        mode = (self.backup.contents or {}).get("row_counts", "exact")
        counted = pg_archive.count_rows(url, sorted(recorded))
        missing = [t for t, n in counted.items() if n is None]
        self.report.tables = {t: {"restored": counted[t], "recorded": recorded[t]} for t in sorted(recorded)}
        if missing:
            raise IntegrityError(
                ngettext(
                    "backup {id}: restored, but {n} table is missing",
                    "backup {id}: restored, but {n} tables are missing",
                    len(missing),
                ).format(id=self.backup.id, n=len(missing)),
                detail=_("not in the scratch database: {tables}").format(tables=", ".join(missing)),
                hint=_("Do not rely on this backup; take a new one and verify it."),
            )
        if mode == "exact":
            wrong = [(t, counted[t], n) for t, n in recorded.items() if n is not None and counted[t] != n]
            if wrong:
                raise IntegrityError(
                    _("backup {id}: restored row counts differ from the dump's").format(id=self.backup.id),
                    detail="; ".join(
                        _("table {table}: {got} rows restored, {want} counted at dump time").format(
                            table=t, got=got, want=want
                        )
                        for t, got, want in wrong
                    ),
                    hint=_("Do not rely on this backup; take a new one and verify it."),
                )
        rows = sum(n or 0 for n in counted.values())
        what = (
            _("every table present, row counts equal to the dump's")
            if mode == "exact" and recorded
            else _("every table present (row counts are estimates: presence checked only)")
            if recorded
            else _("restored (the manifest predates row counts)")
        )
        rec.detail = _("{tables} tables, {rows} rows in {name}; {what}; pg_restore {seconds} s").format(
            tables=len(counted), rows=rows, name=made.name, what=what, seconds=f"{run.seconds:.1f}"
        )

    def cleanup(self, rec: VerifyStep) -> None:
        if not self.report.scratch:
            rec.status, rec.detail = "skipped", _("no scratch database was made")
            return
        scratch.drop(self.admin_url, self.book, self.report.scratch)
        rec.detail = _("{name} dropped").format(name=self.report.scratch)

    # -------------------------------------------------------------------- run

    def execute(self) -> VerifyReport:
        error: BackupbotError | None = None
        try:
            self._steps()
        except Exception as exc:  # every failure is recorded in the bucket and reported
            error = (
                exc
                if isinstance(exc, BackupbotError)
                else BackupbotError(
                    _("unexpected {error} while verifying {id}").format(
                        error=type(exc).__name__, id=self.backup.id
                    ),
                    detail=redact(str(exc))[:1000],
                    hint=_("The bot's log has the details."),
                )
            )
        try:
            with self.step("cleanup") as rec:
                self.cleanup(rec)
        except BackupbotError as exc:  # the scratch database stays in the book; the next start drops it
            error = error or exc
        return self._finish(error)

    def _steps(self) -> None:
        where = staging_dir(self.cfg)
        need = max(self.backup.dump_bytes, self.backup.stored_bytes)
        fits, free = pg_restore.staging_room(where, need)
        with self.step("integrity") as rec:
            self._check_cancel()
            if not fits:
                raise PreflightError(
                    _("not enough room in {where} to verify {id}").format(where=where, id=self.backup.id),
                    detail=_("the dump is {need}; {free} are free.").format(
                        need=human_bytes(need), free=human_bytes(free)
                    ),
                    hint=_("Set [runner] staging_dir to a disk with room for the dump."),
                )
            started = time.monotonic()

            def progress(done: int) -> None:
                rate = done / max(time.monotonic() - started, 0.001)
                self.on_progress(
                    _("{done} of {total} read · {rate}/s").format(
                        done=human_bytes(done),
                        total=human_bytes(self.backup.dump_bytes),
                        rate=human_bytes(rate),
                    )
                )

            staged = pg_restore.staged(
                iter_plain(self.cfg, self.backup, self.storage),
                where,
                progress,
                prefix=scratch.staging_prefix(),
            )
            try:
                path = staged.__enter__()
            except IntegrityError as err:
                raise IntegrityError(
                    _("object {key} failed its integrity check").format(key=self.backup.key),
                    detail=f"{err.message}. {err.detail or ''}".strip(),
                    hint=_(
                        "The stored backup was altered or damaged; do not restore from it. Pick another "
                        "with `backupbot list`."
                    ),
                ) from None
            rec.detail = _("{key}: every chunk authenticated, sha256 {sha}… matches, {size} dump").format(
                key=self.backup.key, sha=self.backup.sha256[:12], size=human_bytes(self.backup.dump_bytes)
            )
        try:
            with self.step("contents") as rec:
                self._check_cancel()
                self.contents(rec, path)
            with self.step("restore") as rec:
                self._check_cancel()
                self.restore(rec, path)
        finally:
            staged.__exit__(None, None, None)

    def _finish(self, error: BackupbotError | None) -> VerifyReport:
        """Record the outcome and raise unless every step passed.

        The record says "failed" only when the backup itself was shown bad (an
        ``IntegrityError``: damaged object, missing table, wrong count, pg_restore refusing
        it); "error" when the check could not be completed (verification server down, no
        room) — that says nothing about the backup. A cancelled run records nothing.
        """
        report = self.report
        failed = next((s for s in report.steps if s.status == "failed"), None)
        cancelled = self.cancel.is_set() and (failed is not None or error is not None)
        if failed is None and error is None:
            report.result = "passed"
        else:
            report.result = "failed" if isinstance(error, IntegrityError) else "error"
        report.failed_step = failed.number if failed else None
        if error is not None:
            report.error = {
                k: redact(str(v)) if isinstance(v, str) else v for k, v in error.as_dict().items()
            }
        unrecorded = ""
        if cancelled:
            report.result, unrecorded = "cancelled", " " + _("It was cancelled: no outcome was recorded.")
        else:
            try:
                report.record_key = verify_record.write(self.storage, self.backup, report.outcome())
            except BackupbotError as exc:
                error = error or exc
                report.result = report.result if report.result != "passed" else "error"
                unrecorded = " " + _("The outcome could not be written to the bucket.")
        if report.result != "passed":
            step = failed or report.steps[-1]
            cause = f"{error.message}" + (f"\n{error.detail}" if error.detail else "") if error else ""
            said = {
                "failed": N_("verification of backup {id} failed at step {number} ({title})"),
                "error": N_("verification of backup {id} could not finish at step {number} ({title})"),
                "cancelled": N_("verification of backup {id} was cancelled at step {number} ({title})"),
            }[report.result]
            raise VerifyFailed(
                _(said).format(id=self.backup.id, number=step.number, title=step.title),
                detail=redact(cause),
                hint=(error.hint if error and error.hint else _("See the steps above.")) + unrecorded,
                report=report,
            )
        return report


def verify_backup(
    cfg: Config,
    backup: Manifest,
    book: scratch.ScratchBook,
    *,
    storage: Storage | None = None,
    on_step: StepCallback | None = None,
    on_progress: Callable[[str], None] | None = None,
    cancel: threading.Event | None = None,
    job_id: int | None = None,
    purpose: str = "verify",
) -> VerifyReport:
    """Run the four steps; returns the report if all passed, raises ``VerifyFailed`` otherwise.

    Leftover scratch databases of dead runs are dropped first. A missing or refused
    verification server raises ``ConfigError`` before anything is read.
    """
    scratch.server_url(cfg)  # a missing or refused verification server stops it before any download
    storage = storage or open_storage(cfg.storage)
    scratch.sweep(cfg, book)
    return _Run(cfg, backup, book, storage, on_step, on_progress, cancel, job_id, purpose).execute()
