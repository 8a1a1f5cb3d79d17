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
from bot.services import Services
from commands.grammar import dispatch, error_text
from commands.permissions import check_allowed
from core.errors import BackupbotError, UsageError
from jobs.events import guarded
from jobs.status import ACTIVE
from jobs.store import Job

# Re-running these changes nothing but the backup itself; a drill restores only into its
# configured target (the standing approval) or a scratch database, and a verify only into a
# scratch database: both are safe to re-run by a click too.
RETRYABLE_KINDS = frozenset({"dump", "files_sync", "files_verify", "drill", "verify"})


def cancel_clicked(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    ack()
    who = click(body)
    if who is None:
        respond(text=NO_ONE, response_type="ephemeral", replace_original=False)
        return
    user, channel, value = who
    if not value.isascii() or not value.isdigit():
        text = error_text(_no_job(value, "Cancel"))
    else:
        text = dispatch(f"cancel {value}", context["services"].invocation(user, channel)).text
    respond(text=text, response_type="ephemeral", replace_original=False)


def _no_job(value: str, button: str) -> UsageError:
    return UsageError(
        f"that {button} button names no job",
        detail=f"The button carried {value[:20]!r} instead of a job number.",
        hint="`/backup status` lists recent jobs with their numbers.",
    )


def retry_clicked(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
    ack()
    services: Services = context["services"]
    who = click(body)
    if who is None:
        respond(text=NO_ONE, response_type="ephemeral", replace_original=False)
        return
    user, channel, value = who
    try:
        check_allowed(services.cfg.slack, user, channel, services.directory)
        if not value.isascii() or not value.isdigit() or len(value) > 30:
            raise _no_job(value, "Retry")
        text = _retry(services, services.store.get_job(int(value)), user, channel)
    except BackupbotError as err:
        text = error_text(err)
    respond(text=text, response_type="ephemeral", replace_original=False)


def _retry(services: Services, old: Job, user: str, channel: str) -> str:
    target = f" {old.database}" if old.database else ""
    if old.kind not in RETRYABLE_KINDS:
        raise UsageError(
            f"{old.title} cannot be retried with a button",
            detail=f"Only backups are re-run by a click; a {old.kind} must pass its checks and approvals again.",
            hint=f"Type the command again: `/backup {old.kind}{target} …`.",
        )
    if old.status in ACTIVE:
        return f"{old.title} is still {old.status.label}; there is nothing to retry yet."
    store = services.store
    with store.transaction() as db:
        again = list(
            db.query(
                "SELECT id, status FROM jobs WHERE CAST(json_extract(params, '$.retry_of') AS INTEGER) = ? ORDER BY id LIMIT 1",
                [old.id],
            )
        )
        if again:
            return (
                f"{old.title} was already retried as job {again[0]['id']} ({again[0]['status']}); "
                f"if that one failed too, use the Retry button on its message."
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
    return f"Queued {job.title} (retry of job {old.id}); its message will show how it goes."
