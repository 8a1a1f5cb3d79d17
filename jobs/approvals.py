"""Restore approvals: who may approve, bound to what they saw, claimed exactly once.

A restore job waits in ``awaiting_approval`` until enough distinct leads approve it. The
rules are enforced here, not in the Slack handler, so the console and any other surface
get them too:

- the approval is bound to what the message showed (backup id, target, requester), as a
  hash carried by the buttons and stored with each approval; a click on an older
  rendering, or an approval recorded for something else, does not count;
- the requester cannot approve their own request (they may withdraw it with Deny);
- someone who is not a lead changes nothing and is told who can approve;
- every click is decided inside one write transaction, so a double click or two leads
  clicking at once start the restore once; each decision is an audit row;
- a request expires after ``approval_timeout_minutes``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from core.config import Config
from core.errors import BackupbotError, ConfigError
from core.i18n import _
from jobs.events import Reporter, guarded
from jobs.freeze import frozen_error, is_frozen
from jobs.queue import enqueue
from jobs.status import JobStatus
from jobs.store import Job, Store, utcnow

KIND = "restore"
log = logging.getLogger(__name__)


def binding_for(backup_id: str, target: str, requested_by: str) -> str:
    """A short hash of what an approver is shown; the buttons carry it, approvals record it."""
    text = json.dumps({"backup": backup_id, "target": target, "requester": requested_by}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def job_binding(job: Job) -> str:
    """Recomputed from the job itself, so edited params cannot keep an old approval alive."""
    return binding_for(str(job.params.get("backup_id", "")), job.database or "", job.requested_by)


def leads_text(cfg: Config, target: str) -> str:
    """How to mention the people who can approve, for messages."""
    db = cfg.database(target)
    if db.approver_group:
        return f"<!subteam^{db.approver_group}>"
    if db.approvers:
        return ", ".join(f"<@{u}>" for u in db.approvers)
    return _("the leads (none configured for this database)")


def is_approver(cfg: Config, target: str, user: str, directory: Any = None) -> bool:
    """A member of the target's ``approvers`` list or ``approver_group`` (via the group directory)."""
    db = cfg.database(target)
    if user in db.approvers:
        return True
    if db.approver_group and directory is not None:
        members = directory.members(db.approver_group)
        return bool(members and user in members)
    return False


def create_request(
    store: Store,
    cfg: Config,
    *,
    backup_id: str,
    target: str,
    requested_by: str,
    channel: str,
    reason: str = "",
    summary: dict[str, str] | None = None,
    reporter: Reporter | None = None,
    now: float | None = None,
    extra: dict[str, Any] | None = None,
) -> Job:
    """Park a restore job until it is approved; its message (with the buttons) goes out via the reporter.

    ``extra`` params ride along for the job kind (a Neon restore's resolved branch ids and
    preserved name); the approval binding stays backup id, target and requester."""
    db = cfg.database(target)
    if not db.approvers and not db.approver_group:
        raise ConfigError(
            _("nobody can approve restores into '{db}'").format(db=target),
            detail=_("[databases.{db}] in {path} sets neither approvers nor approver_group.").format(
                db=target, path=cfg.path
            ),
            hint=_(
                'Add approvers = ["U…"] or approver_group = "S…" under [databases.{db}]; '
                "when Slack itself is down, `backupbot restore … --break-glass` runs without approval."
            ).format(db=target),
        )
    expires = (now or time.time()) + cfg.runner.approval_timeout_minutes * 60
    params = {
        "backup_id": backup_id,
        "reason": reason,
        "binding": binding_for(backup_id, target, requested_by),
        "approvals_required": db.approvals_required,
        "expires_at": expires,
        "expires_at_text": datetime.fromtimestamp(expires, UTC).strftime("%H:%M UTC"),
        "summary": summary or {},
        "decisions": [],
        "approved_by": [],
        **(extra or {}),
    }
    return enqueue(
        store,
        KIND,
        target,
        params,
        requested_by=requested_by,
        channel=channel,
        reporter=reporter,
        status=JobStatus.AWAITING_APPROVAL,
    )


@dataclass(frozen=True)
class Decision:
    """What a click did: ``changed`` means the job (and so its message) changed."""

    outcome: (
        str  # approved, approved_partial, denied, not_allowed, own_request, duplicate, stale, expired, closed
    )
    job: Job
    changed: bool
    reply: str = ""  # an ephemeral answer for the clicker, when there is something to say

    @property
    def start(self) -> bool:
        return self.outcome == "approved"


def _approved_users(store: Store, job: Job, binding: str) -> list[str]:
    rows = store.db.query(
        "SELECT user FROM approvals WHERE job_id = ? AND decision = 'approve' AND binding = ? ORDER BY id",
        [job.id, binding],
    )
    return [r["user"] for r in rows]


def approved_users(store: Store, job: Job) -> list[str]:
    """Distinct leads whose approval counts for this job as it is now."""
    return _approved_users(store, job, job_binding(job))


def expired_error(job: Job, minutes: int) -> BackupbotError:
    return BackupbotError(
        _("restore request {id} expired").format(id=job.id),
        detail=_("Nobody approved it within {minutes} min; nothing was changed on '{db}'.").format(
            minutes=minutes, db=job.database
        ),
        hint=_("Ask again: `/backup restore {backup} --target {db}`.").format(
            backup=job.params.get("backup_id", "ID"), db=job.database
        ),
    )


def _expire(store: Store, job: Job, minutes: int, actor: str) -> bool:
    return store.transition(
        job.id,
        JobStatus.AWAITING_APPROVAL,
        JobStatus.EXPIRED,
        actor=actor,
        event="approval_expired",
        error=expired_error(job, minutes).as_dict(),
    )


def expire_due(
    store: Store, cfg: Config, reporter: Reporter | None = None, now: float | None = None
) -> list[Job]:
    """Expire requests past their time; the reporter edits each message (which drops its buttons)."""
    now = now or time.time()
    done: list[Job] = []
    for job in store.list_jobs(statuses=[JobStatus.AWAITING_APPROVAL], kind=KIND, limit=500):
        if float(job.params.get("expires_at", 0) or 0) <= now and _expire(
            store, job, cfg.runner.approval_timeout_minutes, "system"
        ):
            fresh = store.get_job(job.id)
            done.append(fresh)
            if reporter is not None:
                guarded(reporter).failed(fresh, expired_error(fresh, cfg.runner.approval_timeout_minutes))
    return done


def decide(
    store: Store,
    cfg: Config,
    job_id: int,
    user: str,
    decision: str,
    binding_shown: str,
    *,
    directory: Any = None,
    now: float | None = None,
) -> Decision:
    """Record one Approve or Deny click and move the job if it is now decided (an approval of a frozen target is refused)."""
    if decision not in ("approve", "deny"):
        raise ValueError(decision)
    now = now or time.time()
    job = store.get_job(job_id)
    if job.kind != KIND:
        return Decision("closed", job, False, _("Job {id} is not a restore request.").format(id=job_id))
    target = job.database or ""
    own = user == job.requested_by
    lead = is_approver(cfg, target, user, directory)  # may ask Slack: outside the write lock
    if not own and not lead:
        store.audit(job.id, f"{decision}_refused", user, {"why": "not an approver", "target": target})
        return Decision(
            "not_allowed",
            job,
            False,
            _(
                "You can't approve this: restores into `{db}` are approved by {leads}. Ask one of them."
            ).format(db=target, leads=leads_text(cfg, target)),
        )
    if own and decision == "approve":
        store.audit(job.id, "approve_refused", user, {"why": "own request"})
        return Decision(
            "own_request",
            job,
            False,
            _("You asked for this restore, so you can't approve it: ask {leads}.").format(
                leads=leads_text(cfg, target)
            ),
        )
    if decision == "approve" and (frozen := is_frozen(store, target)) is not None:
        store.audit(job.id, "approve_refused", user, {"why": "frozen", **frozen.as_dict()})
        err = frozen_error(frozen, "restore")
        return Decision("frozen", job, False, f"{err.message}. {err.detail} {err.hint}")
    with store.transaction() as db:
        job = store.get_job(job_id)
        if job.status != JobStatus.AWAITING_APPROVAL:
            who = ", ".join(f"<@{u}>" for u in job.params.get("approved_by", []))
            store.audit(job.id, f"{decision}_ignored", user, {"status": str(job.status)})
            if who:
                text = _(
                    "Restore request {id} is already {status} (approved by {who}); nothing changed."
                ).format(id=job.id, status=job.status.label, who=who)
            else:
                text = _("Restore request {id} is already {status}; nothing changed.").format(
                    id=job.id, status=job.status.label
                )
            return Decision("closed", job, False, text)
        if float(job.params.get("expires_at", 0) or 0) <= now:
            _expire(store, job, cfg.runner.approval_timeout_minutes, user)
            return Decision(
                "expired",
                store.get_job(job_id),
                True,
                _("This request has expired; ask for the restore again."),
            )
        current = job_binding(job)
        if binding_shown != current or job.params.get("binding") != current:
            store.audit(job.id, f"{decision}_stale", user, {"shown": binding_shown, "current": current})
            return Decision(
                "stale",
                job,
                False,
                _(
                    "This request changed since that message was shown; the old approval is void. "
                    "Look at the request again."
                ),
            )
        inserted = db.execute(
            "INSERT OR IGNORE INTO approvals (job_id, user, decision, binding, at, detail) VALUES (?, ?, ?, ?, ?, ?)",
            [job.id, user, decision, current, utcnow(), json.dumps({"own": own})],
        ).rowcount
        if not inserted:
            return Decision(
                "duplicate", job, False, _("You already answered this request; waiting for another lead.")
            )
        decisions = [*job.params.get("decisions", []), {"user": user, "decision": decision, "at": utcnow()}]
        if decision == "deny":
            verb = "withdrawn" if own else "denied"
            store.transition(
                job.id,
                JobStatus.AWAITING_APPROVAL,
                JobStatus.CANCELLED,
                actor=user,
                event=f"restore_{verb}",
                detail={"binding": current},
                params={**job.params, "decisions": decisions},
                error={
                    "message": (
                        _("restore request {id} was withdrawn by {user}")
                        if own
                        else _("restore request {id} was denied by {user}")
                    ).format(id=job.id, user=f"<@{user}>"),
                    "detail": _("Nothing was changed on '{db}'.").format(db=target),
                },
            )
            return Decision("denied", store.get_job(job_id), True)
        approvers = _approved_users(store, job, current)
        required = max(1, int(job.params.get("approvals_required", 1)))
        params = {**job.params, "decisions": decisions, "approved_by": approvers}
        if len(approvers) >= required:
            store.transition(
                job.id,
                JobStatus.AWAITING_APPROVAL,
                JobStatus.QUEUED,
                actor=user,
                event="restore_approved",
                detail={"binding": current, "approved_by": approvers},
                params=params,
            )
            return Decision("approved", store.get_job(job_id), True)
        store.update_job(job.id, params=params)
        store.audit(
            job.id, "restore_approval", user, {"binding": current, "have": len(approvers), "need": required}
        )
        return Decision(
            "approved_partial",
            store.get_job(job_id),
            True,
            _("Approval recorded ({have} of {need}); another lead has to approve too.").format(
                have=len(approvers), need=required
            ),
        )


def apply_decision(
    result: Decision, cfg: Config, reporter: Reporter | None, wake: Callable[[], None]
) -> None:
    """After a click: re-render the request message, and start the runner if it may go."""
    if not result.changed or reporter is None:
        if result.start:
            wake()
        return
    rep = guarded(reporter)
    job = result.job
    if job.status == JobStatus.EXPIRED:
        rep.failed(job, expired_error(job, cfg.runner.approval_timeout_minutes))
    elif job.status == JobStatus.CANCELLED:
        err = job.error or {}
        rep.failed(
            job,
            BackupbotError(
                str(err.get("message") or _("the restore request was denied")), detail=err.get("detail")
            ),
        )
    elif job.status == JobStatus.AWAITING_APPROVAL:
        rep.awaiting_approval(job)  # one more approval recorded; still waiting for another lead
    else:
        rep.queued(job)  # approved: the message loses its buttons, the runner takes the job
    if result.start:
        wake()


def start_expiry_sweeper(
    store: Store, cfg: Config, reporter: Reporter | None, every: float = 15.0
) -> threading.Event:
    """Expire overdue requests now (the bot may have been down) and every ``every`` seconds; set the event to stop."""
    stop = threading.Event()

    def loop() -> None:
        while True:
            try:
                expire_due(store, cfg, reporter)
            except Exception:
                log.exception("expiring restore requests failed; trying again later")
            if stop.wait(every):
                return

    threading.Thread(target=loop, name="approval-expiry", daemon=True).start()
    return stop
