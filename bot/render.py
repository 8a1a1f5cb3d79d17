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

from bot.restore_render import restore_blocks, restore_text
from core.redact import redact
from core.slack_text import chat_commands, cut, escape, fit_blocks, fit_text, mention
from core.slack_text import group as slack_group
from jobs.events import Alert, StepResult
from jobs.status import JobStatus
from jobs.store import Job

CANCEL_ACTION = "job_cancel"
RETRY_ACTION = "job_retry"

REASON_SHOWN = 500

_NOUNS = {
    "dump": "Backup",
    "restore": "Restore",
    "verify": "Verification",
    "drill": "Restore drill",
    "restore_table": "Table restore",
    "prune": "Prune",
    "branch": "Branch",
    "files_sync": "Backup of the app's files",
    "files_verify": "Check of the backed-up app files",
}


def headline(job: Job) -> str:
    noun = _NOUNS.get(job.kind, job.kind.capitalize())
    target = f" of `{escape(job.database)}`" if job.database else ""
    return f"{job.status.emoji} *{escape(noun)}{target}* — {job.status.label} (job {job.id})"


def _context(job: Job) -> str:
    bits = [
        f"requested by {mention(job.requested_by)}"
        if job.requested_by.startswith("U")
        else f"by {escape(job.requested_by or 'schedule')}"
    ]
    if job.params.get("reason"):
        # the whole reason stays in the store (`/backup status N`); the message shows its start
        bits.append(f"reason: {escape(cut(str(job.params['reason']), REASON_SHOWN))}")
    return " · ".join(bits)


def job_text(job: Job, progress: str = "") -> str:
    """The Slack message's notification/fallback text (the console prints its own lines per event)."""
    lines = [headline(job).replace("*", "")]
    if job.status == JobStatus.RUNNING and progress:
        lines.append(escape(progress))
    if job.status == JobStatus.SUCCEEDED and job.result:
        lines.append(escape(job.result.get("summary", ""), job_people(job)))
        lines += [
            f"{escape(k)}: {escape(v, job_people(job))}" for k, v in job.result.get("fields", []) if k != "Backup"
        ]
    if job.error and job.status.terminal and job.status != JobStatus.SUCCEEDED:
        lines += [escape(job.error[k], job_people(job)) for k in ("message", "detail", "hint") if job.error.get(k)]
    text = chat_commands(redact("\n".join(line for line in lines if line)))
    return fit_text(restore_text(job, text) if job.kind == "restore" else text)


def job_blocks(job: Job, progress: str = "") -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": headline(job)}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": _context(job)}]},
    ]
    if job.status == JobStatus.RUNNING and progress:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": escape(progress) or " "}})
    if job.status == JobStatus.SUCCEEDED and job.result:
        people = job_people(job)
        summary = chat_commands(escape(job.result.get("summary", ""), people)) or " "
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": summary}})
        fields = [
            {"type": "mrkdwn", "text": f"*{escape(k)}*\n{chat_commands(escape(v, people))}"}
            for k, v in job.result.get("fields", [])
        ][:10]
        if fields:
            blocks.append({"type": "section", "fields": fields})
    if job.error and job.status.terminal and job.status != JobStatus.SUCCEEDED:
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": error_mrkdwn(job.error, job_people(job))}}
        )
    if job.status in (JobStatus.QUEUED, JobStatus.RUNNING):
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": CANCEL_ACTION,
                        "text": {"type": "plain_text", "text": "Cancel"},
                        "style": "danger",
                        "value": str(job.id),
                        "confirm": {
                            "title": {"type": "plain_text", "text": "Cancel this job?"},
                            "text": {
                                "type": "mrkdwn",
                                "text": f"Stop {escape(job.title)}? Nothing of it will be kept.",
                            },
                            "confirm": {"type": "plain_text", "text": "Cancel job"},
                            "deny": {"type": "plain_text", "text": "Keep running"},
                        },
                    }
                ],
            }
        )
    if job.kind == "dump" and job.status in (JobStatus.FAILED, JobStatus.INTERRUPTED):
        blocks.append(_retry_actions(job.id))  # the next step is one click, not a retyped command
    if job.kind == "restore":
        blocks = restore_blocks(job, blocks)
    return fit_blocks(_redact_blocks(blocks))


def job_people(job: Job) -> frozenset[str]:
    """Who a job's own text may mention: who asked for it and who decided on it."""
    users = {job.requested_by, *(job.params.get("approved_by") or [])}
    users |= {str(d.get("user", "")) for d in job.params.get("decisions") or [] if isinstance(d, dict)}
    return frozenset(u for u in users if u)


def error_mrkdwn(error: dict[str, Any], people: frozenset[str] = frozenset()) -> str:
    lines = [f"*{escape(error.get('message', 'failed'), people)}*"]
    if error.get("detail"):
        lines.append(escape(error["detail"], people))
    if error.get("hint"):
        lines.append(f"_Next:_ {chat_commands(escape(error['hint'], people))}")
    return redact("\n".join(lines))


def step_text(step: StepResult) -> str:
    icon = {
        "running": ":hourglass_flowing_sand:",
        "ok": ":white_check_mark:",
        "failed": ":x:",
        "skipped": ":fast_forward:",
    }[step.status]
    took = f" ({step.duration:.1f} s)" if step.duration is not None else ""
    detail = f" — {escape(step.detail)}" if step.detail else ""
    return fit_text(redact(f"{icon} {escape(step.name)}: {step.status}{took}{detail}"))


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
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": title}}]
    if alert.error:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": error_mrkdwn(alert.error)}})
    if alert.retry and alert.job_id is not None:
        blocks.append(_retry_actions(alert.job_id))
    text = title + ("\n" + error_mrkdwn(alert.error) if alert.error else "")
    return fit_text(redact(text)), fit_blocks(_redact_blocks(blocks))


def _retry_actions(job_id: int) -> dict[str, Any]:
    button = {
        "type": "button",
        "action_id": RETRY_ACTION,
        "text": {"type": "plain_text", "text": "Retry"},
        "value": str(job_id),
    }
    return {"type": "actions", "elements": [button]}


def _redact_blocks(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [_redact_blocks(v) for v in value]
    if isinstance(value, dict):
        return {k: _redact_blocks(v) for k, v in value.items()}
    return value
