"""Cancel and Retry buttons on job messages and alerts.

A click goes through the same permission checks as typing the command, so a button
can never do what its clicker could not type. Cancel is literally `/backup cancel N`.
Retry re-queues a backup (or a files sync or check) with the failed job's parameters (a
scheduled nightly stays that nightly); it refuses other kinds, because a restore must be approved again and a
prune confirmed by a lead, which a click on an old message must not skip. A double
click queues one retry, not two: each failed job is retried once, from its own message.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, BoltContext, Respond

from bot.listeners.intake import NO_ONE, click
from bot.render import status_label
from bot.services import Services
from commands.grammar import dispatch, error_text
from commands.permissions import check_allowed
from core.errors import BackupbotError, UsageError
from core.i18n import _
from jobs.events import guarded
from jobs.status import ACTIVE, JobStatus
from jobs.store import Job

# Re-running these changes nothing but the backup itself; a drill restores only into its
# configured target (the standing approval) or a scratch database, and a verify only into a
# scratch database: both are safe to re-run by a click too.
RETRYABLE_KINDS = frozenset({"dump", "files_sync", "files_verify", "drill", "verify"})


def cancel_clicked(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    ack()
    who = click(body)
    if who is None:
        respond(text=_(NO_ONE), response_type="ephemeral", replace_original=False)
        return
    user, channel, value = who
    if not value.isascii() or not value.isdigit():
        text = error_text(_no_job(value, _("Cancel")))
    else:
        text = dispatch(f"cancel {value}", context["services"].invocation(user, channel)).text
    respond(text=text, response_type="ephemeral", replace_original=False)


def _no_job(value: str, button: str) -> UsageError:
    return UsageError(
        _("that {button} button names no job").format(button=button),
        detail=_("The button carried {value} instead of a job number.").format(value=repr(value[:20])),
        hint=_("`/backup status` lists recent jobs with their numbers."),
    )


def retry_clicked(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    ack()
    services: Services = context["services"]
    who = click(body)
    if who is None:
        respond(text=_(NO_ONE), response_type="ephemeral", replace_original=False)
        return
    user, channel, value = who
    try:
        check_allowed(services.cfg.slack, user, channel, services.directory)
        if not value.isascii() or not value.isdigit() or len(value) > 30:
            raise _no_job(value, _("Retry"))
        text = _retry(services, services.store.get_job(int(value)), user, channel)
    except BackupbotError as err:
        text = error_text(err)
    respond(text=text, response_type="ephemeral", replace_original=False)


def _retry(services: Services, old: Job, user: str, channel: str) -> str:
    target = f" {old.database}" if old.database else ""
    if old.kind not in RETRYABLE_KINDS:
        raise UsageError(
            _("{title} cannot be retried with a button").format(title=old.title),
            detail=_(
                "Only backups are re-run by a click; a {kind} must pass its checks and approvals again."
            ).format(kind=old.kind),
            hint=_("Type the command again: `/backup {command} …`.").format(command=f"{old.kind}{target}"),
        )
    if old.status in ACTIVE:
        return _("{title} is still {status}; there is nothing to retry yet.").format(
            title=old.title, status=status_label(old.status)
        )
    store = services.store
    with store.transaction() as db:
        again = list(
            db.query(
                "SELECT id, status FROM jobs WHERE CAST(json_extract(params, '$.retry_of') AS INTEGER) = ? ORDER BY id LIMIT 1",
                [old.id],
            )
        )
        if again:
            return _(
                "{title} was already retried as job {again} ({status}); "
                "if that one failed too, use the Retry button on its message."
            ).format(
                title=old.title, again=again[0]["id"], status=status_label(JobStatus(again[0]["status"]))
            )
        job = store.create_job(
            old.kind,
            old.database,
            {**old.params, "retry_of": old.id},
            requested_by=user,
            channel=old.channel or channel,
            lane=old.lane,
            wake=False,
        )
        store.audit(old.id, "retried", user, {"job": job.id})
    guarded(services.reporter).queued(job)
    services.wake()
    return _("Queued {title} (retry of job {old}); its message will show how it goes.").format(
        title=job.title, old=old.id
    )
