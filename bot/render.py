"""Block Kit for a job's one message and its thread lines, with their plain-text fallback.

One function per shape, fed from the job row (the store is the truth) plus the latest
progress line, so whatever edit reaches Slack last shows the job as it really is.
Text passes through ``redact`` on the way out: nothing here may carry a secret. Every
value that came from a person or a tool (a reason, a backup id, a step's output, an
error) is escaped (``core.slack_text``), so it shows as typed and never as a mention or
a link; the blocks are cut to Slack's limits, because Slack refuses a whole message
over one long text.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import Block

from bot import blocks as bk
from bot.restore_render import restore_blocks, restore_text
from core.i18n import N_, _, pgettext
from core.redact import redact
from core.slack_text import chat_commands, cut, escape, fit_text, mention
from core.slack_text import group as slack_group
from jobs.events import Alert, StepResult
from jobs.status import JobStatus
from jobs.store import Job

CANCEL_ACTION = "job_cancel"
RETRY_ACTION = "job_retry"

REASON_SHOWN = 500
# An error's headline and hint are what to read first and what to do next: they keep
# their room, the detail (a tool's output, often long) gets the rest.
ERROR_MESSAGE_SHOWN = 500
ERROR_HINT_SHOWN = 1000

_NOUNS = {
    "dump": N_("Backup"),
    "restore": N_("Restore"),
    "verify": N_("Verification"),
    "drill": N_("Restore drill"),
    "restore_table": N_("Table restore"),
    "prune": N_("Prune"),
    "branch": N_("Branch"),
    "files_sync": N_("Backup of the app's files"),
    "files_verify": N_("Check of the backed-up app files"),
}


def step_label(status: str) -> str:
    """A step's status as the thread line shows it (the values themselves are keys)."""
    labels = {
        "running": pgettext("step status", "running"),
        "ok": pgettext("step status", "ok"),
        "failed": pgettext("step status", "failed"),
        "skipped": pgettext("step status", "skipped"),
    }
    return labels.get(status, status)


def status_label(status: JobStatus) -> str:
    """The state as people read it (JobStatus.label: the value itself stays the stored key)."""
    return status.label


def noun(job: Job) -> str:
    """What the job is, as a noun: "Backup", "Restore drill"."""
    if job.kind not in _NOUNS:
        return job.kind.capitalize()
    name = _NOUNS[job.kind]
    return _(name)


def what(job: Job) -> str:
    """The job as a phrase for a sentence: "Backup of `app` (job 12)"."""
    if job.database:
        return _("{noun} of `{db}` (job {id})").format(noun=noun(job), db=escape(job.database), id=job.id)
    return _("{noun} (job {id})").format(noun=noun(job), id=job.id)


def headline(job: Job) -> str:
    values = {
        "emoji": job.status.emoji,
        "noun": escape(noun(job)),
        "status": status_label(job.status),
        "id": job.id,
    }
    if job.database:
        return _("{emoji} *{noun} of `{db}`* — {status} (job {id})").format(db=escape(job.database), **values)
    return _("{emoji} *{noun}* — {status} (job {id})").format(**values)


def _context(job: Job) -> str:
    if job.requested_by.startswith("U"):
        bits = [_("requested by {who}").format(who=mention(job.requested_by))]
    elif job.requested_by:
        bits = [_("by {who}").format(who=escape(job.requested_by))]
    else:
        bits = [_("by the schedule")]
    if job.params.get("reason"):
        # the whole reason stays in the store (`/backup status N`); the message shows its start
        bits.append(_("reason: {reason}").format(reason=escape(cut(str(job.params["reason"]), REASON_SHOWN))))
    return " · ".join(bits)


def job_text(job: Job, progress: str = "") -> str:
    """The Slack message's notification/fallback text (the console prints its own lines per event).

    A result's field names are keys of the stored result ("Backup" is compared); they are
    translated where they are shown, by whichever catalog knows them.
    """
    lines = [headline(job).replace("*", "")]
    if job.status == JobStatus.RUNNING and progress:
        lines.append(escape(progress))
    if job.status == JobStatus.SUCCEEDED and job.result:
        lines.append(escape(job.result.get("summary", ""), job_people(job)))
        lines += [
            f"{escape(_(k))}: {escape(v, job_people(job))}"
            for k, v in job.result.get("fields", [])
            if k != "Backup"
        ]
    if job.error and job.status.terminal and job.status != JobStatus.SUCCEEDED:
        lines += [
            escape(job.error[k], job_people(job)) for k in ("message", "detail", "hint") if job.error.get(k)
        ]
    text = chat_commands(redact("\n".join(line for line in lines if line)))
    return fit_text(restore_text(job, text) if job.kind == "restore" else text)


def job_blocks(job: Job, progress: str = "") -> list[dict[str, Any]]:
    """The job's message as Block Kit, every value cut to Slack's limits where it is built."""
    blocks: list[Block] = [bk.section(headline(job)), bk.context(_context(job))]
    if job.status == JobStatus.RUNNING and progress:
        blocks.append(bk.section(escape(progress) or " "))
    if job.status == JobStatus.SUCCEEDED and job.result:
        people = job_people(job)
        blocks.append(bk.section(chat_commands(escape(job.result.get("summary", ""), people)) or " "))
        blocks += bk.fields_section(
            [f"*{escape(_(k))}*\n{chat_commands(escape(v, people))}" for k, v in job.result.get("fields", [])]
        )
    if job.error and job.status.terminal and job.status != JobStatus.SUCCEEDED:
        blocks.append(error_section(job.error, job_people(job)))
    if job.status in (JobStatus.QUEUED, JobStatus.RUNNING):
        confirm = bk.confirm(
            _("Cancel this job?"),
            _("Stop {what}? Nothing of it will be kept.").format(what=what(job)),
            _("Cancel job"),
            _("Keep running"),
        )
        blocks.append(bk.actions([bk.button(CANCEL_ACTION, _("Cancel"), str(job.id), "danger", confirm)]))
    if job.kind == "dump" and job.status in (JobStatus.FAILED, JobStatus.INTERRUPTED):
        blocks.append(_retry_actions(job.id))  # the next step is one click, not a retyped command
    if job.kind == "restore":
        blocks = restore_blocks(job, blocks)
    return bk.to_dicts(blocks)


def job_people(job: Job) -> frozenset[str]:
    """Who a job's own text may mention: who asked for it and who decided on it."""
    users = {job.requested_by, *(job.params.get("approved_by") or [])}
    users |= {str(d.get("user", "")) for d in job.params.get("decisions") or [] if isinstance(d, dict)}
    return frozenset(u for u in users if u)


def _error_parts(error: dict[str, Any], people: frozenset[str]) -> tuple[str, list[str], str]:
    message = f"*{cut(escape(error.get('message') or _('failed'), people), ERROR_MESSAGE_SHOWN)}*"
    detail = escape(error["detail"], people).split("\n") if error.get("detail") else []
    hint = ""
    if error.get("hint"):
        hint = _("_Next:_ {hint}").format(
            hint=chat_commands(cut(escape(error["hint"], people), ERROR_HINT_SHOWN))
        )
    return message, detail, hint


def error_mrkdwn(error: dict[str, Any], people: frozenset[str] = frozenset()) -> str:
    message, detail, hint = _error_parts(error, people)
    return redact("\n".join([message, *detail, *([hint] if hint else [])]))


def error_section(error: dict[str, Any], people: frozenset[str] = frozenset()) -> Block:
    """The error as one section: the headline and the next step always shown, the detail cut by lines."""
    message, detail, hint = _error_parts(error, people)
    room = bk.SECTION_TEXT - len(message) - len(hint) - 2
    shown = [message]
    if detail:
        shown.append(bk.fit_lines(detail, max(bk.MIN_LINE, room)))
    if hint:
        shown.append(hint)
    return bk.section(shown)


def step_text(step: StepResult) -> str:
    icon = {
        "running": ":hourglass_flowing_sand:",
        "ok": ":white_check_mark:",
        "failed": ":x:",
        "skipped": ":fast_forward:",
    }[step.status]
    took = f" ({step.duration:.1f} s)" if step.duration is not None else ""
    detail = f" — {escape(step.detail)}" if step.detail else ""
    return fit_text(redact(f"{icon} {escape(step.name)}: {step_label(step.status)}{took}{detail}"))


def alert_payload(alert: Alert) -> tuple[str, list[dict[str, Any]]]:
    icon = {
        "failure": ":rotating_light:",
        "warning": ":warning:",
        "recovered": ":large_green_circle:",
        "info": ":information_source:",
    }[alert.severity]
    ping = ""
    if alert.mention:
        who = slack_group(alert.mention) if alert.mention.startswith("S") else mention(alert.mention)
        ping = f"{who} "
    title = f"{icon} {ping}{escape(alert.title)}"
    blocks: list[Block] = [bk.section(title)]
    if alert.error:
        blocks.append(error_section(alert.error))
    if alert.retry and alert.job_id is not None:
        blocks.append(_retry_actions(alert.job_id))
    text = title + ("\n" + error_mrkdwn(alert.error) if alert.error else "")
    return fit_text(redact(text)), bk.to_dicts(blocks)


def _retry_actions(job_id: int) -> Block:
    return bk.actions([bk.button(RETRY_ACTION, _("Retry"), str(job_id))])
