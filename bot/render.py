"""Block Kit for a job's one message and its thread lines, with their plain-text fallback.

One function per shape, fed from the job row (the store is the truth) plus the latest
progress line, so whatever edit reaches Slack last shows the job as it really is.
Text passes through ``redact`` on the way out: nothing here may carry a secret.
"""

from __future__ import annotations

from typing import Any

from bot.restore_render import restore_blocks, restore_text
from core.redact import redact
from jobs.events import Alert, StepResult
from jobs.status import JobStatus
from jobs.store import Job

CANCEL_ACTION = "job_cancel"
RETRY_ACTION = "job_retry"

_NOUNS = {
    "dump": "Backup",
    "restore": "Restore",
    "verify": "Verification",
    "prune": "Prune",
    "branch": "Branch",
    "files_sync": "Backup of the app's files",
    "files_verify": "Check of the backed-up app files",
}


def headline(job: Job) -> str:
    noun = _NOUNS.get(job.kind, job.kind.capitalize())
    target = f" of `{job.database}`" if job.database else ""
    return f"{job.status.emoji} *{noun}{target}* — {job.status.label} (job {job.id})"


def _context(job: Job) -> str:
    bits = [
        f"requested by <@{job.requested_by}>"
        if job.requested_by.startswith("U")
        else f"by {job.requested_by or 'schedule'}"
    ]
    if job.params.get("reason"):
        bits.append(f"reason: {job.params['reason']}")
    return " · ".join(bits)


def job_text(job: Job, progress: str = "") -> str:
    """The Slack message's notification/fallback text (the console prints its own lines per event)."""
    lines = [headline(job).replace("*", "")]
    if job.status == JobStatus.RUNNING and progress:
        lines.append(progress)
    if job.status == JobStatus.SUCCEEDED and job.result:
        lines.append(str(job.result.get("summary", "")))
        lines += [f"{k}: {v}" for k, v in job.result.get("fields", []) if k != "Backup"]
    if job.error and job.status.terminal and job.status != JobStatus.SUCCEEDED:
        lines += [str(job.error[k]) for k in ("message", "detail", "hint") if job.error.get(k)]
    text = redact("\n".join(line for line in lines if line))
    return restore_text(job, text) if job.kind == "restore" else text


def job_blocks(job: Job, progress: str = "") -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": headline(job)}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": _context(job)}]},
    ]
    if job.status == JobStatus.RUNNING and progress:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": progress}})
    if job.status == JobStatus.SUCCEEDED and job.result:
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": str(job.result.get("summary", ""))}}
        )
        fields = [{"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in job.result.get("fields", [])][:10]
        if fields:
            blocks.append({"type": "section", "fields": fields})
    if job.error and job.status.terminal and job.status != JobStatus.SUCCEEDED:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": error_mrkdwn(job.error)}})
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
                                "text": f"Stop {job.title}? Nothing of it will be kept.",
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
    return _redact_blocks(blocks)


def error_mrkdwn(error: dict[str, Any]) -> str:
    lines = [f"*{error.get('message', 'failed')}*"]
    if error.get("detail"):
        lines.append(str(error["detail"]))
    if error.get("hint"):
        lines.append(f"_Next:_ {error['hint']}")
    return redact("\n".join(lines))


def step_text(step: StepResult) -> str:
    icon = {
        "running": ":hourglass_flowing_sand:",
        "ok": ":white_check_mark:",
        "failed": ":x:",
        "skipped": ":fast_forward:",
    }[step.status]
    took = f" ({step.duration:.1f} s)" if step.duration is not None else ""
    detail = f" — {step.detail}" if step.detail else ""
    return redact(f"{icon} {step.name}: {step.status}{took}{detail}")


def alert_payload(alert: Alert) -> tuple[str, list[dict[str, Any]]]:
    icon = {
        "failure": ":rotating_light:",
        "warning": ":warning:",
        "recovered": ":large_green_circle:",
        "info": ":information_source:",
    }[alert.severity]
    mention = ""
    if alert.mention:
        mention = f"<!subteam^{alert.mention}> " if alert.mention.startswith("S") else f"<@{alert.mention}> "
    title = f"{icon} {mention}{alert.title}"
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": title}}]
    if alert.error:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": error_mrkdwn(alert.error)}})
    if alert.retry and alert.job_id is not None:
        blocks.append(_retry_actions(alert.job_id))
    text = title + ("\n" + error_mrkdwn(alert.error) if alert.error else "")
    return redact(text), _redact_blocks(blocks)


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
