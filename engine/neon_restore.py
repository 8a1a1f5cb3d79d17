"""The emergency runbook for a database on Neon: the same steps, Neon doing the restore.

lock → maintenance on → Neon restore → wait for Neon → migrate → health checks →
maintenance off → runbook entry. There is no safety dump: Neon keeps the target's
current state as a branch named ``preserve_under_name`` (``pre-restore-<stamp>``) in the
same call that overwrites it, so the way back exists the moment anything changes, and the
runbook entry names it with the one command that undoes the restore. A restore call that
timed out may have worked: before anything is sent again the preserved (or restored)
branch is looked up by name and the run carries on with it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from adapters import hooks
from adapters.neon import NeonClient, NeonUnknownOutcome
from adapters.storage import open_storage
from core.config import Config
from core.errors import BackupbotError
from core.i18n import N_, _
from core.redact import redact
from engine import runbook
from engine.restore_plan import RestoreFailed, RestoreState
from engine.restore_report import ProgressCallback, RestoreRequest, StepCallback, StepRecord, status_text
from engine.restore_steps import run_health_checks, run_locked
from engine.steps import timed_step

STEPS: tuple[tuple[str, str], ...] = (
    ("lock", N_("Lock target")),
    ("maintenance_on", N_("Maintenance on")),
    ("restore", N_("Neon restore")),
    ("wait", N_("Wait for Neon")),
    ("migrate", N_("Migrate")),
    ("health", N_("Health checks")),
    ("maintenance_off", N_("Maintenance off")),
    ("runbook", N_("Runbook entry")),
)
# The target's state after a step failed: (with a maintenance hook, without one).
_STATE = {
    "lock": (N_("unchanged"), N_("unchanged")),
    "maintenance_on": (
        N_("unchanged; maintenance mode may be partly on"),
        N_("unchanged; maintenance mode may be partly on"),
    ),
    "restore": (
        N_("unchanged unless Neon accepted the restore (see the preserved branch), still in maintenance"),
        N_("unchanged unless Neon accepted the restore (see the preserved branch)"),
    ),
    "wait": (
        N_("being restored by Neon (its operations did not finish in time), still in maintenance"),
        N_("being restored by Neon (its operations did not finish in time)"),
    ),
    "migrate": (N_("restored, migrations failed, still in maintenance"), N_("restored, migrations failed")),
    "health": (
        N_("restored and migrated, health checks failed, still in maintenance"),
        N_("restored and migrated, health checks failed"),
    ),
    "maintenance_off": (
        N_("restored, migrated and checked, but maintenance-off failed: the app may still be down"),
        N_("restored, migrated and checked, but maintenance-off failed: the app may still be down"),
    ),
    "runbook": (
        N_("restored and back in service; only the runbook entry is incomplete"),
        N_("restored and back in service; only the runbook entry is incomplete"),
    ),
}
PRESERVED_LABEL = N_("Preserved Neon branch holding what was there before")


def undo_command(preserved: str, target: str, restore_id: str) -> str:
    return f'backupbot restore neon:{preserved} --target {target} --break-glass --reason "undo {restore_id}"'


@dataclass
class NeonRestoreReport:
    restore_id: str
    request: RestoreRequest
    started_at: datetime
    steps: list[StepRecord]
    preserved: str = ""  # the preserved branch's name, once Neon accepted the restore
    state: str = ""
    succeeded: bool = False
    runbook_text: str = ""
    runbook_key: str = ""
    operations: list[str] = field(default_factory=list)  # "action on branch: status"
    error: dict[str, Any] | None = None

    def step(self, key: str) -> StepRecord:
        return next(s for s in self.steps if s.key == key)

    @property
    def safety_id(self) -> str:
        return self.preserved


class _NeonRun:
    def __init__(
        self,
        cfg: Config,
        req: RestoreRequest,
        params: dict[str, Any],
        state: RestoreState | None,
        on_step: StepCallback | None,
        on_progress: ProgressCallback | None,
    ) -> None:
        self.cfg, self.req, self.p, self.state = cfg, req, params, state
        self.db = cfg.database(req.target)
        self.client = NeonClient.for_database(cfg, self.db)
        self.pid = str(params["neon_project_id"])
        self.url = self.db.restore_url() if self.db.restore_url_env else ""
        self.secrets = [self.url] if self.url else []
        started = datetime.now(UTC)
        self.report = NeonRestoreReport(
            restore_id=f"{req.target}-{started:%Y%m%dT%H%M%SZ}-neon-restore",
            request=req,
            started_at=started,
            steps=[StepRecord(i, key, _(title)) for i, (key, title) in enumerate(STEPS, 1)],
        )
        self.on_step = on_step or (lambda s: None)
        self.on_progress = on_progress or (lambda t: None)
        self.pending: list[dict[str, Any]] = []

    @contextmanager
    def step(self, key: str) -> Iterator[StepRecord]:
        with timed_step(self.report.step(key), self.on_step, self.secrets) as rec:
            yield rec

    def hook(self, rec: StepRecord, setting: str, value: Any) -> None:
        if not hooks.is_configured(value):
            rec.status, rec.detail = "skipped", _("no {setting} configured").format(setting=setting)
            return
        env = {
            "BACKUPBOT_EVENT": setting,
            "BACKUPBOT_TARGET": self.req.target,
            "BACKUPBOT_BACKUP_ID": self.req.backup_id,
            "BACKUPBOT_RESTORE_ID": self.report.restore_id,
            "BACKUPBOT_REQUESTED_BY": self.req.requested_by,
        }
        res = hooks.run_hook(
            value,
            name=setting,
            timeout=self.db.hook_timeout_seconds,
            env=env,
            secrets=self.secrets,
            payload={
                "event": setting,
                "target": self.req.target,
                "backup_id": self.req.backup_id,
                "restore_id": self.report.restore_id,
            },
        )
        rec.detail = res.what + (f": {res.output.splitlines()[-1]}" if res.output else "")

    # ------------------------------------------------------------ the Neon calls

    def _adopt(self, name: str, why: NeonUnknownOutcome) -> dict[str, Any]:
        """After a lost answer: the branch the call would have made, or the original error."""
        found = self.client.branch_named(self.pid, name)
        if found is None:
            raise why
        return found

    def restore(self, rec: StepRecord) -> None:
        source = str(self.p["neon_source"])
        target_id = str(self.p["neon_target_branch_id"])
        preserve = str(self.p["preserve_under_name"])
        if source.startswith("neon-snapshot:"):
            self._from_snapshot(rec, target_id, preserve)
            return
        body: dict[str, Any] = {"source_branch_id": target_id, "preserve_under_name": preserve}
        if source.startswith("neon@"):
            body["source_timestamp"] = source[len("neon@") :]
            what = _("`{branch}` back to {time}").format(
                branch=self.p["neon_target_branch_name"], time=body["source_timestamp"]
            )
        else:
            body["source_branch_id"] = str(self.p["neon_source_id"])
            what = _("`{branch}` from branch {source}").format(
                branch=self.p["neon_target_branch_name"], source=source[len("neon:") :]
            )
        try:
            self.pending = self.client.restore_branch(self.pid, target_id, body).get("operations", [])
        except NeonUnknownOutcome as lost:
            kept = self._adopt(preserve, lost)
            self.pending = self.client.operations_in_flight(self.pid, [target_id, kept["id"]])
        self.report.preserved = preserve
        rec.detail = _("POST /branches/{id}/restore: {what}; current state preserved as `{preserve}`").format(
            id=target_id, what=what, preserve=preserve
        )

    def _from_snapshot(self, rec: StepRecord, target_id: str, preserve: str) -> None:
        sid = str(self.p["neon_source_id"])
        temp = f"restoring-{preserve[len('pre-restore-') :]}"
        body = {"name": temp, "target_branch_id": target_id, "finalize_restore": False}
        try:
            made = self.client.restore_snapshot(self.pid, sid, body)
            new, ops = made["branch"], made.get("operations", [])
        except NeonUnknownOutcome as lost:
            new = self._adopt(temp, lost)
            ops = self.client.operations_in_flight(self.pid, [new["id"]])
        self.client.wait_operations(self.pid, ops, lambda t: self.on_progress(f"Neon: {t}"))
        try:
            self.pending = self.client.finalize_restore(self.pid, new["id"], preserve)
        except NeonUnknownOutcome as lost:
            self._adopt(preserve, lost)
            self.pending = self.client.operations_in_flight(self.pid)
        self.report.preserved = preserve
        rec.detail = _(
            "POST /snapshots/{snapshot}/restore into {id}, then finalize_restore: the restored branch took the name "
            "`{branch}` and its computes (new id {new}); the old one is preserved as `{preserve}`"
        ).format(
            snapshot=sid,
            id=target_id,
            branch=self.p["neon_target_branch_name"],
            new=new["id"],
            preserve=preserve,
        )

    def wait(self, rec: StepRecord) -> None:
        done = self.client.wait_operations(self.pid, self.pending, lambda t: self.on_progress(f"Neon: {t}"))
        self.report.operations = [
            _("{action} on {branch}: {status}").format(
                action=o["action"], branch=o.get("branch_id", "?"), status=o["status"]
            )
            for o in done
        ]
        rec.detail = "; ".join(self.report.operations) or _("no operations to wait for")

    # ------------------------------------------------------------ the run

    def execute(self) -> NeonRestoreReport:
        req, report = self.req, self.report
        failed, error = run_locked(report, req, self.step, self.state, self.secrets, self._steps)
        report.succeeded = failed is None
        if failed in _STATE:
            state = _STATE[failed][0 if hooks.is_configured(self.db.maintenance_on) else 1]
        else:
            state = N_("restored and back in service")
        report.state = _(state)
        self._write_runbook(failed, error)
        if failed and failed != "runbook":
            rec = report.step(failed)
            nxt = self._next(failed)
            raise RestoreFailed(
                _("restore into '{target}' stopped at step {number} ({step})").format(
                    target=req.target, number=rec.number, step=rec.title
                ),
                detail=_("Target state: {state}.").format(state=report.state)
                + "\n"
                + redact(error.render() if error else "", self.secrets),
                hint=_("Next: {action}").format(action=nxt) if nxt else None,
                report=report,
            )
        return report

    def _steps(self) -> None:
        with self.step("maintenance_on") as rec:
            self.hook(rec, "maintenance_on", self.db.maintenance_on)
        with self.step("restore") as rec:
            self.restore(rec)
        with self.step("wait") as rec:
            self.wait(rec)
        with self.step("migrate") as rec:
            if not self.db.migrate:
                rec.status, rec.detail = "skipped", _("no migrate command configured")
            else:
                env = {"BACKUPBOT_EVENT": "migrate", "BACKUPBOT_TARGET": self.req.target}
                if self.url:
                    env["DATABASE_URL"] = self.url
                res = hooks.run_argv(
                    list(self.db.migrate),
                    name="migrate",
                    timeout=self.db.hook_timeout_seconds,
                    env=env,
                    cwd=self.db.migrate_cwd or None,
                    secrets=self.secrets,
                )
                rec.detail = res.what + (f": {res.output.splitlines()[-1]}" if res.output else "")
        with self.step("health") as rec:
            if not self.db.health_checks:
                rec.status, rec.detail = "skipped", _("no health_checks configured")
            elif not self.url:
                rec.status, rec.detail = "skipped", _("health_checks need restore_url_env to connect")
            else:
                rec.detail = run_health_checks(self.url, self.db, self.secrets)
        with self.step("maintenance_off") as rec:
            self.hook(rec, "maintenance_off", self.db.maintenance_off)

    def _next(self, failed: str | None) -> str | None:
        undo = undo_command(self.report.preserved, self.req.target, self.report.restore_id)
        if failed in (None, "runbook"):
            return None
        if failed in ("lock", "maintenance_on") or (failed == "restore" and not self.report.preserved):
            return _(
                "fix the cause above and request the restore again; Neon was not asked to change anything."
            )
        return _("fix the cause above; to put back what was there before: `{undo}`").format(undo=undo)

    def _write_runbook(self, failed: str | None, error: BackupbotError | None) -> None:
        report, req = self.report, self.req
        if error is not None:
            report.error = error.as_dict()
        rec = report.step("runbook")
        rec.status = "running"
        self.on_step(rec)
        started = time.monotonic()
        lines = [
            runbook.StepLine(s.number, s.title, status_text(s.status), s.seconds, s.detail)
            for s in report.steps
        ]
        entry = runbook.RunbookEntry(
            restore_id=report.restore_id,
            target=req.target,
            target_where=_("Neon project {project}, branch {branch} ({id})").format(
                project=self.pid, branch=self.p["neon_target_branch_name"], id=self.p["neon_target_branch_id"]
            ),
            backup_id=req.backup_id,
            backup_line=_("Neon source {source}").format(source=self.p["neon_source"]),
            requested_by=req.requested_by,
            approved_by=req.approved_by,
            reason=req.reason,
            via=req.via,
            started_at=report.started_at,
            finished_at=datetime.now(UTC),
            succeeded=report.succeeded,
            state=report.state,
            safety_id=report.preserved or None,
            undo_command=undo_command(report.preserved, req.target, report.restore_id)
            if report.preserved
            else None,
            next_action=self._next(failed),
            steps=lines[:-1] + [runbook.StepLine(8, rec.title, status_text("ok"), None, _("this entry"))],
            safety_label=PRESERVED_LABEL,
        )
        report.runbook_text = runbook.render(entry)
        report.runbook_key, problems = runbook.keep(
            open_storage(self.cfg.storage), entry, report.runbook_text, self.db.runbook_file
        )
        rec.seconds = time.monotonic() - started
        where = ", ".join(w for w in (report.runbook_key, self.db.runbook_file) if w)
        rec.status, rec.detail = (
            ("failed", "; ".join(problems)) if problems else ("ok", _("stored: {where}").format(where=where))
        )
        rec.attachment = report.runbook_text
        self.on_step(rec)


def run_neon_restore(
    cfg: Config,
    request: RestoreRequest,
    params: dict[str, Any],
    *,
    state: RestoreState | None = None,
    on_step: StepCallback | None = None,
    on_progress: ProgressCallback | None = None,
) -> NeonRestoreReport:
    """Run the eight steps; returns the report, or raises ``RestoreFailed`` (with the report)."""
    return _NeonRun(cfg, request, params, state, on_step, on_progress).execute()
