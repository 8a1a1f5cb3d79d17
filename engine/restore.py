"""The emergency runbook as one run of ordered steps, each timed and reported.

lock → safety dump → maintenance on → restore → migrate → health checks → maintenance
off → runbook entry (a swap restore, ``restore_swap.py``, restores into a new database and
adds a switch step after the health checks). The order is the point: nothing is overwritten before a
``pre-restore`` dump of the target is stored (so every restore can be undone), and a
failed step stops the run right there instead of bringing an unmigrated or unchecked
database back into service. The failure says which step, what state the target is in,
and the exact command that puts back what was there before.

The request and what the run reports (``RestoreRequest``, ``StepRecord``, ``RestoreReport``)
live in ``restore_report.py``; jobs/, cli/ and tests still import those names from here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from adapters import hooks, pg_databases, pg_inspect, pg_objects, pg_offsets, pg_restore
from adapters.storage import Storage, open_storage
from core.config import Config
from core.errors import BackupbotError, RestoreError
from core.i18n import _, ngettext
from core.redact import describe_url, redact
from core.units import human_bytes
from engine import globals_dump, restore_card, restore_roles, restore_swap, runbook
from engine.catalog import get_backup
from engine.decrypt import iter_plain
from engine.dump import run_dump
from engine.manifest import Manifest
from engine.restore_plan import (
    RestoreFailed,
    RestoreState,
    choose_mode,
    next_action,
    remember,
    staging_dir,
    target_state,
)
from engine.restore_report import (
    STEPS,
    ProgressCallback,
    RestoreReport,
    RestoreRequest,
    StepCallback,
    StepRecord,
    status_text,
    success_state,
    with_roles,
)
from engine.restore_steps import run_health_checks, run_locked
from engine.restore_swap_steps import SwapSteps
from engine.steps import timed_step


def _named(user: str, req: RestoreRequest) -> str:
    """'ana (U0DEV)' in the runbook when the surface knew the name; the id (or user@host) otherwise."""
    name = dict(req.names).get(user)
    return f"{name} ({user})" if name else user


def _hook_env(req: RestoreRequest, restore_id: str, event: str) -> dict[str, str]:
    return {
        "BACKUPBOT_EVENT": event,
        "BACKUPBOT_TARGET": req.target,
        "BACKUPBOT_BACKUP_ID": req.backup_id,
        "BACKUPBOT_RESTORE_ID": restore_id,
        "BACKUPBOT_REQUESTED_BY": req.requested_by,
    }


class _Run(SwapSteps):
    """One restore in progress: the step machinery around the eight steps."""

    def __init__(
        self,
        cfg: Config,
        req: RestoreRequest,
        backup: Manifest,
        state: RestoreState | None,
        storage: Storage,
        on_step: StepCallback | None,
        on_progress: ProgressCallback | None,
        now: datetime | None,
        cancel: threading.Event | None = None,
    ) -> None:
        self.cfg, self.req, self.backup, self.state, self.storage = cfg, req, backup, state, storage
        self.cancel = cancel or threading.Event()
        self.db = cfg.database(req.target)
        self.url = self.db.restore_url()
        self.secrets = [pg_inspect.password_of(self.url), pg_inspect.password_of(self.db.dump_url())]
        started = (now or datetime.now(UTC)).astimezone(UTC)
        self.method, self.method_why, self.method_error = "clean", "", None
        try:
            self.method, self.method_why = restore_swap.choose_method(self.db, self.url)
        except BackupbotError as exc:  # raised in the lock step, so the run is reported like any failure
            self.method_error = exc
        restore_id = f"{req.target}-{started:%Y%m%dT%H%M%SZ}-restore"
        self.names = restore_swap.names_for(pg_databases.dbname_of(self.url), restore_id)
        self.switched = False
        steps = restore_swap.steps_for(self.db) if self.method == "swap" else STEPS
        if backup.globals_key:  # the backup carries its roles: the missing ones are created first
            steps = with_roles(steps)
        self.report = RestoreReport(
            restore_id=restore_id,
            request=req,
            backup=backup,
            started_at=started,
            steps=[StepRecord(i, key, _(title), total=len(steps)) for i, (key, title) in enumerate(steps, 1)],
            extra={"method": self.method, "method_why": self.method_why},
        )
        self.on_step = on_step or (lambda s: None)
        self.on_progress = on_progress or (lambda t: None)
        self.writing = False  # pg_restore started: from here on a failure may leave the target changed

    @contextmanager
    def step(self, key: str) -> Iterator[StepRecord]:
        with timed_step(self.report.step(key), self.on_step, self.secrets) as rec:
            yield rec

    def hook(self, rec: StepRecord, setting: str, value: Any) -> None:
        if not hooks.is_configured(value):
            rec.status, rec.detail = "skipped", _("no {setting} configured").format(setting=setting)
            return
        res = hooks.run_hook(
            value,
            name=setting,
            timeout=self.db.hook_timeout_seconds,
            env=_hook_env(self.req, self.report.restore_id, setting),
            secrets=self.secrets,
            payload={
                "event": setting,
                "target": self.req.target,
                "backup_id": self.req.backup_id,
                "restore_id": self.report.restore_id,
            },
        )
        rec.detail = res.what + (f": {res.output.splitlines()[-1]}" if res.output else "")

    def restore(self, rec: StepRecord) -> None:
        mode, why = choose_mode(self.cfg, self.req.target, self.backup)
        self.report.mode = mode
        if self.method == "swap":
            self._build(rec, mode, why)
            return
        started = time.monotonic()

        def progress(done: int) -> None:
            rate = done / max(time.monotonic() - started, 0.001)
            self.on_progress(
                _("{done} of {total} · {rate}/s").format(
                    done=human_bytes(done), total=human_bytes(self.backup.dump_bytes), rate=human_bytes(rate)
                )
            )

        chunks = iter_plain(self.cfg, self.backup, self.storage)
        mwm = self.db.restore_maintenance_work_mem
        timing = ""
        if mode == "staged":
            with pg_restore.staged(chunks, staging_dir(self.cfg), progress) as path:
                staged_in = time.monotonic() - started
                # Without data offsets every -j worker reads through the file: serial is faster then.
                jobs = self.db.restore_jobs if pg_offsets.add_data_offsets(path) else 1
                closed = pg_restore.clear_sessions(
                    self.url, self.req.target, self.db.restore_sessions, self.db.hook_timeout_seconds
                )
                self.writing = True
                self._empty_if_exact(rec)
                result = pg_restore.restore_file(
                    self.url,
                    self.req.target,
                    path,
                    jobs=jobs,
                    owner=self.db.restore_owner,
                    maintenance_work_mem=mwm,
                )
                timing = _("; staged in {staged} s, pg_restore {seconds} s").format(
                    staged=f"{staged_in:.1f}", seconds=f"{result.seconds:.1f}"
                )
        else:
            closed = pg_restore.clear_sessions(
                self.url, self.req.target, self.db.restore_sessions, self.db.hook_timeout_seconds
            )
            self.writing = True
            self._empty_if_exact(rec)
            result = pg_restore.restore_stream(
                self.url,
                self.req.target,
                chunks,
                owner=self.db.restore_owner,
                on_progress=progress,
                maintenance_work_mem=mwm,
            )
        sessions = ""  # "sessions" even for one: tests and people grep for it
        if closed and self.db.restore_sessions == "terminate":
            sessions = _("; {n} sessions terminated").format(n=closed)
        elif closed:
            sessions = _("; {n} sessions ended").format(n=closed)
        emptied = self.report.extra.get("emptied")
        rec.detail = (
            _("{size} {mode} ({why})").format(size=human_bytes(result.bytes), mode=result.said, why=why)
            + sessions
            + timing
            + (_("; emptied first ({what})").format(what=emptied) if emptied else "")
        )

    def _empty_if_exact(self, rec: StepRecord) -> None:
        """restore_clean = "exact" (or a safety dump going back): drop everything so the result is the backup."""
        exact, why = restore_card.exact_clean(self.db, self.backup, self.req.target)
        if not exact:
            return
        gone = pg_objects.reset_contents(self.url)
        # From here a failure leaves a partly restored target, even when streamed: say so.
        self.report.mode += ", emptied first"
        self.report.extra["emptied"] = ngettext(
            "{why}; dropped {n} schema or extension", "{why}; dropped {n} schemas and extensions", len(gone)
        ).format(why=why, n=len(gone))

    def execute(self) -> RestoreReport:
        req, report = self.req, self.report

        def method_known() -> None:
            if self.method_error is not None:
                raise self.method_error

        failed, error = run_locked(
            report, req, self.step, self.state, self.secrets, self._steps, method_known
        )
        report.succeeded = failed is None
        if failed and self.method == "swap" and not self.switched and self.writing_new():
            self._discard()
        if self.method == "swap" and failed:
            report.state = restore_swap.swap_state(
                failed, self.names, self._maintenance_ran(), hooks.is_configured(self.db.maintenance_on)
            )
        else:
            report.state = (
                target_state(
                    failed,
                    report.mode if self.writing else "not started",
                    maintenance=hooks.is_configured(self.db.maintenance_on),
                )
                if failed
                else success_state(report)
            )
        self._write_runbook(failed, error)
        if failed and failed != "runbook":
            raise self._failure(failed, error)
        if report.succeeded:
            remember(
                self.state, req.target, self.backup.dump_bytes, sum(s.seconds or 0 for s in report.steps)
            )
        return report

    def _check_cancel(self) -> None:
        """Cancelling is honoured until the safety dump is stored; after that, stopping would do harm."""
        if self.cancel.is_set():
            raise RestoreError(
                _("restore into '{target}' was cancelled before anything changed").format(
                    target=self.req.target
                ),
                hint=_("Request it again when ready."),
            )

    def _steps(self) -> None:
        """Every step between the lock and the runbook entry, in the order of ``report.steps``."""
        for rec in self.report.steps[1:-1]:
            with self.step(rec.key) as running:
                getattr(self, f"_do_{rec.key}")(running)

    def _do_safety_dump(self, rec: StepRecord) -> None:
        req, report = self.req, self.report
        self._check_cancel()
        safety = run_dump(
            self.cfg,
            req.target,
            kind="pre-restore",
            reason=_("before restoring {id} ({restore})").format(id=req.backup_id, restore=report.restore_id),
            requested_by=req.requested_by,
            cancel=self.cancel,
            url=self.url,  # the database about to be overwritten, whatever the dump URL reaches
        )
        report.safety_id = safety.id
        rec.detail = _("{id}, {size} stored, read through the restore URL").format(
            id=safety.id, size=human_bytes(safety.stored_bytes)
        )

    def _do_maintenance_on(self, rec: StepRecord) -> None:
        self.hook(rec, "maintenance_on", self.db.maintenance_on)

    def _do_roles(self, rec: StepRecord) -> None:
        """Create the roles the backup needs that the target's server lacks; never touch one that exists."""
        stored = restore_roles.parse(globals_dump.load(self.cfg, self.backup, self.storage).decode())
        referenced = restore_roles.referenced_roles(iter_plain(self.cfg, self.backup, self.storage))
        chosen = restore_roles.plan(stored, referenced, restore_roles.existing_roles(self.url))
        if not chosen.create:
            rec.detail = chosen.line()
            return
        restore_roles.create(self.url, stored, chosen, self.secrets)
        self.report.extra["roles_created"] = list(chosen.create)
        rec.detail = _(
            "created {what}. Passwords are never in a backup: give each created role that logs in a "
            "password (`ALTER ROLE name PASSWORD '…'`) before the app connects with it"
        ).format(what=chosen.line())

    def _do_restore(self, rec: StepRecord) -> None:
        self.restore(rec)

    def _do_switch(self, rec: StepRecord) -> None:
        self.switch(rec)

    def _do_maintenance_off(self, rec: StepRecord) -> None:
        self.hook(rec, "maintenance_off", self.db.maintenance_off)

    def _do_migrate(self, rec: StepRecord) -> None:
        if not self.db.migrate:
            rec.status, rec.detail = "skipped", _("no migrate command configured")
            return
        env = {**_hook_env(self.req, self.report.restore_id, "migrate"), "DATABASE_URL": self._work_url()}
        res = hooks.run_argv(
            list(self.db.migrate),
            name="migrate",
            timeout=self.db.hook_timeout_seconds,
            env=env,
            cwd=self.db.migrate_cwd or None,
            secrets=self.secrets,
        )
        rec.detail = res.what + (f": {res.output.splitlines()[-1]}" if res.output else "")

    def _do_health(self, rec: StepRecord) -> None:
        if not self.db.health_checks:
            rec.status, rec.detail = "skipped", _("no health_checks configured")
        else:
            rec.detail = run_health_checks(self._work_url(), self.db, self.secrets)

    def _next(self, failed: str | None) -> tuple[str | None, str | None]:
        if self.method == "swap":
            return restore_swap.next_action(
                failed,
                self.db,
                self.report.safety_id,
                self.req.target,
                self.report.restore_id,
                self.switched,
                self._maintenance_ran(),
            )
        return next_action(failed, self.db, self.report.safety_id, self.req.target, self.report.restore_id)

    def _failure(self, failed: str, error: BackupbotError | None) -> RestoreFailed:
        rec = self.report.step(failed)
        nxt, _undo = self._next(failed)
        cause = error.render() if error else ""
        return RestoreFailed(
            _("restore into '{target}' stopped at step {number} ({step})").format(
                target=self.req.target, number=rec.number, step=rec.title
            ),
            detail=_("Target state: {state}.").format(state=self.report.state)
            + "\n"
            + redact(cause, self.secrets),
            hint=_("Next: {action}").format(action=nxt) if nxt else None,
            report=self.report,
        )

    def _write_runbook(self, failed: str | None, error: BackupbotError | None) -> None:
        report, req = self.report, self.req
        if error is not None:
            report.error = error.as_dict()
        nxt, undo = self._next(failed)
        entry_steps = [
            runbook.StepLine(s.number, s.title, status_text(s.status), s.seconds, s.detail)
            for s in report.steps
        ]
        rec = report.step("runbook")
        rec.status, rec.seconds = "running", None
        self.on_step(rec)
        started = time.monotonic()
        b = self.backup
        entry = runbook.RunbookEntry(
            restore_id=report.restore_id,
            target=req.target,
            target_where=describe_url(self.url),
            backup_id=b.id,
            backup_line=_("database {db}, kind {kind}, taken {when} UTC by {who}, {size}").format(
                db=b.database,
                kind=b.kind,
                when=f"{b.created_at:%Y-%m-%d %H:%M}",
                who=_named(b.requested_by or "?", req),
                size=human_bytes(b.stored_bytes),
            ),
            requested_by=_named(req.requested_by, req),
            approved_by=tuple(_named(u, req) for u in req.approved_by),
            reason=req.reason,
            via=req.via,
            started_at=report.started_at,
            finished_at=datetime.now(UTC),
            succeeded=report.succeeded,
            state=report.state,
            safety_id=report.safety_id,
            undo_command=undo,
            next_action=nxt,
            steps=entry_steps[:-1]
            + [runbook.StepLine(rec.number, rec.title, status_text("ok"), None, _("this entry"))],
            notes=self._notes(),
        )
        report.runbook_text = runbook.render(entry)
        report.runbook_key, problems = runbook.keep(
            self.storage, entry, report.runbook_text, self.db.runbook_file
        )
        rec.seconds = time.monotonic() - started
        where = ", ".join(w for w in (report.runbook_key, self.db.runbook_file) if w)
        rec.status, rec.detail = (
            ("failed", "; ".join(problems)) if problems else ("ok", _("stored: {where}").format(where=where))
        )
        rec.attachment = report.runbook_text
        if problems and report.succeeded:
            report.state = target_state("runbook", report.mode)
        self.on_step(rec)

    def _notes(self) -> tuple[str, ...]:
        """Lines of the runbook entry beyond the fixed ones: the roles this run created."""
        created = self.report.extra.get("roles_created")
        if not created:
            return ()
        return (
            _(
                "Roles created (without a password: a backup never holds passwords): {names}. Give each "
                "one that logs in a password with `ALTER ROLE name PASSWORD '…'`; it cannot log in "
                "with a password until then."
            ).format(names=", ".join(created)),
        )


def run_restore(
    cfg: Config,
    request: RestoreRequest,
    *,
    state: RestoreState | None = None,
    on_step: StepCallback | None = None,
    on_progress: ProgressCallback | None = None,
    storage: Storage | None = None,
    backup: Manifest | None = None,
    now: datetime | None = None,
    cancel: threading.Event | None = None,
) -> RestoreReport:
    """Run the eight steps; returns the report, or raises ``RestoreFailed`` (with the report)."""
    storage = storage or open_storage(cfg.storage)
    manifest = backup or get_backup(cfg, request.backup_id, storage)
    req = request if manifest.id == request.backup_id else replace(request, backup_id=manifest.id)
    return _Run(cfg, req, manifest, state, storage, on_step, on_progress, now, cancel).execute()
