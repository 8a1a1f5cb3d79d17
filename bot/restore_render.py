"""Block Kit for a restore request: what will be overwritten, who decided, and the two buttons.

The generic job message (headline, progress, result, error) is kept; this adds what an
approver must see before clicking — the backup, the target and what it holds now, the
preflight, the expected duration — then the decisions so far, and while the request is
open, Approve and Deny, each behind a confirm dialog. The buttons carry the job id and
the hash of what is shown, so a click on an outdated rendering cannot approve anything.
"""

from __future__ import annotations

import json
from typing import Any

from core.redact import redact
from jobs.status import JobStatus
from jobs.store import Job

APPROVE_ACTION = "restore_approve"
DENY_ACTION = "restore_deny"
_ORDER = (
    "Backup",
    "Target",
    "Will overwrite",
    "Backup holds",
    "Versions",
    "Open sessions",
    "Restore mode",
    "Expected duration",
    "Warnings",
)


def _clock(iso: str) -> str:
    """'2026-11-29T17:03:12.345Z' → '17:03:12 UTC' (the date is the message's own)."""
    return (iso[11:19] + " UTC") if len(iso) >= 19 else iso


def summary_lines(job: Job) -> list[str]:
    summary: dict[str, str] = job.params.get("summary", {}) or {}
    keys = [k for k in _ORDER if k in summary] + [k for k in summary if k not in _ORDER]
    lines = [f"*{k}:* {summary[k]}" for k in keys]
    if job.params.get("reason"):
        lines.append(f"*Reason:* {job.params['reason']}")
    return lines


def decision_lines(job: Job) -> list[str]:
    lines = []
    for d in job.params.get("decisions", []) or []:
        icon, verb = (
            (":white_check_mark:", "approved") if d.get("decision") == "approve" else (":no_entry:", "denied")
        )
        if d.get("decision") == "deny" and d.get("user") == job.requested_by:
            verb = "withdrew"
        lines.append(f"{icon} <@{d.get('user')}> {verb} at {_clock(str(d.get('at', '')))}")
    required = int(job.params.get("approvals_required", 1) or 1)
    have = len(job.params.get("approved_by", []) or [])
    if job.status == JobStatus.AWAITING_APPROVAL:
        lines.append(
            f"Approvals: {have} of {required} · the requester cannot approve · "
            f"expires at {job.params.get('expires_at_text', '?')}"
        )
    return lines


def _button(job: Job, action: str, label: str, style: str, title: str, text: str, go: str) -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": action,
        "text": {"type": "plain_text", "text": label},
        "style": style,
        "value": json.dumps({"job": job.id, "binding": job.params.get("binding", "")}),
        "confirm": {
            "title": {"type": "plain_text", "text": title},
            "text": {"type": "mrkdwn", "text": text},
            "confirm": {"type": "plain_text", "text": go},
            "deny": {"type": "plain_text", "text": "Back"},
        },
    }


def buttons(job: Job) -> dict[str, Any]:
    target = job.database or "?"
    backup = job.params.get("backup_id", "?")
    return {
        "type": "actions",
        "block_id": f"restore_{job.id}",
        "elements": [
            _button(
                job,
                APPROVE_ACTION,
                "Approve",
                "primary",
                "Approve this restore?",
                f"`{target}` will be overwritten with `{backup}` (after a safety dump of it).",
                "Approve",
            ),
            _button(
                job,
                DENY_ACTION,
                "Deny",
                "danger",
                "Deny this restore?",
                f"Nothing will be changed on `{target}`.",
                "Deny",
            ),
        ],
    }


def restore_blocks(job: Job, blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The generic blocks with the request inserted after the headline and context."""
    extra: list[dict[str, Any]] = []
    lines = summary_lines(job)
    if lines:
        extra.append({"type": "section", "text": {"type": "mrkdwn", "text": redact("\n".join(lines))[:2900]}})
    decided = decision_lines(job)
    if decided:
        extra.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": redact("\n".join(decided))}]}
        )
    if job.status == JobStatus.AWAITING_APPROVAL:
        extra.append(buttons(job))
    return blocks[:2] + extra + blocks[2:]


def restore_text(job: Job, text: str) -> str:
    """The plain-text form (notifications, the console) with the same facts."""
    first, _, rest = text.partition("\n")
    lines = [first, *summary_lines(job), *decision_lines(job)]
    if job.status == JobStatus.AWAITING_APPROVAL:
        lines.append(
            f"Approve or deny: `/backup approve {job.id}` or `/backup deny {job.id}`, or the buttons in Slack."
        )
    if rest:
        lines.append(rest)
    return redact("\n".join(line.replace("*", "") for line in lines if line))
