"""Block Kit for a restore request: what will be overwritten, who decided, and the two buttons.

The generic job message (headline, progress, result, error) is kept; this adds what an
approver must see before clicking — the backup, the target and what it holds now, the
preflight, the expected duration — then the decisions so far, and while the request is
open, Approve and Deny, each behind a confirm dialog. The buttons carry the job id and
the hash of what is shown, so a click on an outdated rendering cannot approve anything.

The console has no message to edit, so it prints one line per event instead: the
``console_*`` functions say at each point what really happened (waiting for leads, who
approved and how many more must, queued, denied, expired).
"""

from __future__ import annotations

import json
import re
from typing import Any

from core.errors import BackupbotError
from core.redact import redact
from core.slack_text import cut, escape, mention
from jobs.status import JobStatus
from jobs.store import Job

APPROVE_ACTION = "restore_approve"
DENY_ACTION = "restore_deny"
_ORDER = (
    "Backup",
    "Target",
    "Will overwrite",
    "Will replace",
    "Backup holds",
    "Versions",
    "Open sessions",
    "Restore method",
    "Restore mode",
    "Safety dump",
    "Will stay",
    "Will drop",
    "Connection strings",
    "Preserved as",
    "Expected duration",
    "Warnings",
)


def _clock(iso: str) -> str:
    """'2026-11-29T17:03:12.345Z' → '17:03:12 UTC' (the date is the message's own)."""
    return (iso[11:19] + " UTC") if len(iso) >= 19 else iso


_TAKEN_BY = re.compile(r"taken by <@([UW][A-Z0-9]{1,20})>\)$")


def summary_lines(job: Job) -> list[str]:
    summary: dict[str, str] = job.params.get("summary", {}) or {}
    keys = [k for k in _ORDER if k in summary] + [k for k in summary if k not in _ORDER]
    # the preflight names who took the backup as a mention; everything else in it is shown as text
    lines = [f"*{escape(k)}:* {escape(summary[k], _TAKEN_BY.findall(str(summary[k])))}" for k in keys]
    if job.params.get("reason"):
        lines.append(f"*Reason:* {escape(cut(str(job.params['reason']), 500))}")
    return lines


def decision_lines(job: Job) -> list[str]:
    lines = []
    for d in job.params.get("decisions", []) or []:
        icon, verb = (
            (":white_check_mark:", "approved") if d.get("decision") == "approve" else (":no_entry:", "denied")
        )
        if d.get("decision") == "deny" and d.get("user") == job.requested_by:
            verb = "withdrew"
        lines.append(f"{icon} {mention(d.get('user'))} {verb} at {escape(_clock(str(d.get('at', ''))))}")
    required = int(job.params.get("approvals_required", 1) or 1)
    have = len(job.params.get("approved_by", []) or [])
    if job.status == JobStatus.AWAITING_APPROVAL:
        lines.append(
            f"Approvals: {have} of {required} · the requester cannot approve · "
            f"expires at {escape(job.params.get('expires_at_text', '?'))}"
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


def _approve_text(job: Job, target: str, backup: str) -> str:
    if str(backup).startswith("undo:"):  # an undo request (commands/undo.py): no safety dump, a swap back
        return (
            f"`{target}` will be swapped back to the database restore `{backup[5:]}` replaced "
            "(the one serving now is kept for a while)."
        )
    if job.params.get("preserve_under_name"):  # a Neon restore: Neon keeps the current state as a branch
        return (
            f"`{target}` (its whole Neon branch) will be overwritten with `{backup}`; its current state is kept "
            f"as branch `{job.params['preserve_under_name']}`."
        )
    return f"`{target}` will be overwritten with `{backup}` (after a safety dump of it)."


def buttons(job: Job) -> dict[str, Any]:
    target = escape(job.database or "?")
    backup = escape(job.params.get("backup_id", "?"))
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
                _approve_text(job, target, backup),
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
    """The plain-text form (Slack notifications and fallback) with the same facts."""
    first, _, rest = text.partition("\n")
    lines = [first, *summary_lines(job), *decision_lines(job)]
    if job.status == JobStatus.AWAITING_APPROVAL:
        lines.append(
            f"Approve or deny: `/backup approve {job.id}` or `/backup deny {job.id}`, or the buttons in Slack."
        )
    if rest:
        lines.append(rest)
    return redact("\n".join(line.replace("*", "") for line in lines if line))


def _mention(user: str) -> str:
    """Slack ids as mentions (the console prints ``@U…``); a console login name as typed."""
    return f"<@{user}>" if re.fullmatch(r"[UW][A-Z0-9]+", user) else user


def _leads(n: int, target: str, more: bool = False) -> str:
    """'a lead of `t`', '2 leads of `t`', '1 more lead of `t`', '2 more leads of `t`'."""
    extra = " more" if more else ""
    count = (f"1{extra} lead" if more else "a lead") if n == 1 else f"{n}{extra} leads"
    return f"{count} of `{target}`"


def _what(job: Job) -> str:
    backup = str(job.params.get("backup_id", "?"))
    if backup.startswith("undo:"):  # an undo request (commands/undo.py)
        return f"undo of restore `{backup[5:]}` on `{job.database or '?'}`"
    return f"restore of `{backup}` into `{job.database or '?'}`"


def _required(job: Job) -> int:
    return max(1, int(job.params.get("approvals_required", 1) or 1))


def _last(job: Job, decision: str) -> str | None:
    """Who made the newest decision, if it was ``decision``: the click this event is about."""
    decisions = job.params.get("decisions", []) or []
    if decisions and decisions[-1].get("decision") == decision:
        return str(decisions[-1].get("user", "?"))
    return None


def console_awaiting(job: Job) -> str:
    """A request just posted (with what an approver must see), or one more approval that is not enough yet."""
    required = _required(job)
    have = len(job.params.get("approved_by", []) or [])
    expires = job.params.get("expires_at_text", "?")
    approver = _last(job, "approve")
    if have and approver:
        return redact(
            f"approved by {_mention(approver)} ({have} of {required} approvals); "
            f"{_leads(required - have, job.database or '?', more=True)} must approve before it runs "
            f"(expires at {expires})."
        )
    verb = "approves" if required == 1 else "approve"
    lines = [
        f"awaiting approval: {_what(job)}, asked by {_mention(job.requested_by)}. "
        f"Nothing runs until {_leads(required, job.database or '?')} {verb}.",
        *("  " + line.replace("*", "") for line in summary_lines(job)),
        f"Approve: switch to a lead (`/as USER`), then `/backup approve {job.id}`; the requester cannot. "
        f"Deny or withdraw: `/backup deny {job.id}`. Expires at {expires}.",
    ]
    return redact("\n".join(lines))


def console_queued(job: Job) -> str:
    """The restore is in line for the runner: the approval that completed it, then "queued"."""
    lines = []
    approver = _last(job, "approve")
    if approver:
        have = len(job.params.get("approved_by", []) or [])
        lines.append(f"approved by {_mention(approver)} ({have} of {_required(job)} approvals)")
    lines.append(f"queued: {_what(job)}")
    return redact("\n".join(lines))


def console_ended(job: Job, error: BackupbotError) -> str | None:
    """A request denied, withdrawn or expired before it ran; None for every other ending."""
    if job.status == JobStatus.EXPIRED:
        head = "expired"
    elif job.status == JobStatus.CANCELLED and (user := _last(job, "deny")):
        head = f"{'withdrawn' if user == job.requested_by else 'denied'} by {_mention(user)}"
    else:
        return None
    lines = [f"{head}. {error.detail}" if error.detail else head]
    if error.hint:
        lines.append(f"Next: {error.hint}")
    return redact("\n".join(lines))
