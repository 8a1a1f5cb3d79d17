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

from slack_sdk.models.blocks import Block

from bot import blocks as bk
from core.errors import BackupbotError
from core.i18n import N_, _, ngettext
from core.redact import redact
from core.slack_text import cut, escape, mention
from jobs.status import JobStatus
from jobs.store import Job

APPROVE_ACTION = "restore_approve"
DENY_ACTION = "restore_deny"
# The request card's lines in this order; the keys are stored in the job (and compared), and
# translated where they are shown.
_ORDER = (
    N_("Backup"),
    N_("Target"),
    N_("Will overwrite"),
    N_("Will replace"),
    N_("Backup holds"),
    N_("Versions"),
    N_("Open sessions"),
    N_("Restore method"),
    N_("Restore mode"),
    N_("Safety dump"),
    N_("Will stay"),
    N_("Will drop"),
    N_("Connection strings"),
    N_("Preserved as"),
    N_("Expected duration"),
    N_("Warnings"),
)
# Other keys a card may carry (shown after those above, in the order they were written).
_OTHER_KEYS = (N_("Backup has roles"), N_("Undo"), N_("Kept until"))


def _clock(iso: str) -> str:
    """'2026-11-29T17:03:12.345Z' → '17:03:12 UTC' (the date is the message's own)."""
    return (iso[11:19] + " UTC") if len(iso) >= 19 else iso


# The preflight's Backup line ends with who took the backup, "(…, taken by <@U…>)" in any language.
_TAKEN_BY = re.compile(r"<@([UW][A-Z0-9]{1,20})>\)$")


def summary_lines(job: Job) -> list[str]:
    summary: dict[str, str] = job.params.get("summary", {}) or {}
    keys = [k for k in _ORDER if k in summary] + [k for k in summary if k not in _ORDER]
    # the preflight names who took the backup as a mention; everything else in it is shown as text
    lines = [
        _("*{key}:* {value}").format(
            key=escape(_(k)),
            value=escape(summary[k], _TAKEN_BY.findall(str(summary[k])) if k == "Backup" else ()),
        )
        for k in keys
    ]
    if job.params.get("reason"):
        lines.append(_("*Reason:* {reason}").format(reason=escape(cut(str(job.params["reason"]), 500))))
    return lines


def decision_lines(job: Job) -> list[str]:
    lines = []
    for d in job.params.get("decisions", []) or []:
        values = {"who": mention(d.get("user")), "at": escape(_clock(str(d.get("at", ""))))}
        if d.get("decision") == "approve":
            lines.append(_(":white_check_mark: {who} approved at {at}").format(**values))
        elif d.get("user") == job.requested_by:
            lines.append(_(":no_entry: {who} withdrew at {at}").format(**values))
        else:
            lines.append(_(":no_entry: {who} denied at {at}").format(**values))
    required = int(job.params.get("approvals_required", 1) or 1)
    have = len(job.params.get("approved_by", []) or [])
    if job.status == JobStatus.AWAITING_APPROVAL:
        lines.append(
            _("Approvals: {have} of {required} · the requester cannot approve · expires at {expires}").format(
                have=have, required=required, expires=escape(job.params.get("expires_at_text", "?"))
            )
        )
    return lines


def _button(
    job: Job, action: str, label: str, style: str, title: str, text: str, go: str
) -> bk.ButtonElement:
    value = json.dumps({"job": job.id, "binding": job.params.get("binding", "")})
    return bk.button(action, label, value, style, bk.confirm(title, text, go, _("Back")))


def _approve_text(job: Job, target: str, backup: str) -> str:
    if str(backup).startswith("undo:"):  # an undo request (commands/undo.py): no safety dump, a swap back
        return _(
            "`{target}` will be swapped back to the database restore `{restore}` replaced "
            "(the one serving now is kept for a while)."
        ).format(target=target, restore=backup[5:])
    if job.params.get("preserve_under_name"):  # a Neon restore: Neon keeps the current state as a branch
        return _(
            "`{target}` (its whole Neon branch) will be overwritten with `{backup}`; its current state is kept "
            "as branch `{branch}`."
        ).format(target=target, backup=backup, branch=escape(job.params["preserve_under_name"]))
    return _("`{target}` will be overwritten with `{backup}` (after a safety dump of it).").format(
        target=target, backup=backup
    )


def buttons(job: Job) -> dict[str, Any]:
    """Approve and Deny with their confirm dialogs, as Slack's JSON."""
    return buttons_block(job).to_dict()


def buttons_block(job: Job) -> Block:
    target = escape(job.database or "?")
    backup = escape(job.params.get("backup_id", "?"))
    return bk.actions(
        [
            _button(
                job,
                APPROVE_ACTION,
                _("Approve"),
                "primary",
                _("Approve this restore?"),
                _approve_text(job, target, backup),
                _("Approve"),
            ),
            _button(
                job,
                DENY_ACTION,
                _("Deny"),
                "danger",
                _("Deny this restore?"),
                _("Nothing will be changed on `{target}`.").format(target=target),
                _("Deny"),
            ),
        ],
        block_id=f"restore_{job.id}",
    )


def restore_blocks(job: Job, blocks: list[Block]) -> list[Block]:
    """The generic blocks with the request inserted after the headline and context.

    Every line of the card stays (the longest values are cut first); the decisions are a
    list, cut with "…and N more" when there are very many.
    """
    extra: list[Block] = []
    lines = summary_lines(job)
    if lines:
        extra.append(bk.section(lines))
    decided = decision_lines(job)
    if decided:
        extra.append(bk.context("\n".join(decided)))
    if job.status == JobStatus.AWAITING_APPROVAL:
        extra.append(buttons_block(job))
    return blocks[:2] + extra + blocks[2:]


def restore_text(job: Job, text: str) -> str:
    """The plain-text form (Slack notifications and fallback) with the same facts."""
    first, _sep, rest = text.partition("\n")
    lines = [first, *summary_lines(job), *decision_lines(job)]
    if job.status == JobStatus.AWAITING_APPROVAL:
        lines.append(
            _(
                "Approve or deny: `/backup approve {id}` or `/backup deny {id}`, or the buttons in Slack."
            ).format(id=job.id)
        )
    if rest:
        lines.append(rest)
    return redact("\n".join(line.replace("*", "") for line in lines if line))


def _mention(user: str) -> str:
    """Slack ids as mentions (the console prints ``@U…``); a console login name as typed."""
    return f"<@{user}>" if re.fullmatch(r"[UW][A-Z0-9]+", user) else user


def _what(job: Job) -> str:
    backup = str(job.params.get("backup_id", "?"))
    if backup.startswith("undo:"):  # an undo request (commands/undo.py)
        return _("undo of restore `{restore}` on `{db}`").format(restore=backup[5:], db=job.database or "?")
    return _("restore of `{backup}` into `{db}`").format(backup=backup, db=job.database or "?")


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
    db = job.database or "?"
    if have and approver:
        more = required - have
        return redact(
            ngettext(
                "approved by {who} ({have} of {required} approvals); "
                "{n} more lead of `{db}` must approve before it runs (expires at {expires}).",
                "approved by {who} ({have} of {required} approvals); "
                "{n} more leads of `{db}` must approve before it runs (expires at {expires}).",
                more,
            ).format(who=_mention(approver), have=have, required=required, n=more, db=db, expires=expires)
        )
    asked = _("awaiting approval: {what}, asked by {who}.").format(
        what=_what(job), who=_mention(job.requested_by)
    )
    until = ngettext(
        "Nothing runs until a lead of `{db}` approves.",
        "Nothing runs until {n} leads of `{db}` approve.",
        required,
    ).format(n=required, db=db)
    lines = [
        f"{asked} {until}",
        *("  " + line.replace("*", "") for line in summary_lines(job)),
        _(
            "Approve: switch to a lead (`/as USER`), then `/backup approve {id}`; the requester cannot. "
            "Deny or withdraw: `/backup deny {id}`. Expires at {expires}."
        ).format(id=job.id, expires=expires),
    ]
    return redact("\n".join(lines))


def console_approved(job: Job) -> str | None:
    """The approval that completed a restore request ("approved by @U… (2 of 2 approvals)"), if one did."""
    approver = _last(job, "approve")
    if not approver:
        return None
    have = len(job.params.get("approved_by", []) or [])
    return redact(
        _("approved by {who} ({have} of {required} approvals)").format(
            who=_mention(approver), have=have, required=_required(job)
        )
    )


def console_queued(job: Job) -> str:
    """The restore is in line for the runner: the approval that completed it, then "queued"."""
    approved = console_approved(job)
    lines = [approved] if approved else []
    lines.append(_("queued: {what}").format(what=_what(job)))
    return redact("\n".join(lines))


def console_ended(job: Job, error: BackupbotError) -> str | None:
    """A request denied, withdrawn or expired before it ran; None for every other ending."""
    if job.status == JobStatus.EXPIRED:
        head = _("expired")
    elif job.status == JobStatus.CANCELLED and (user := _last(job, "deny")):
        if user == job.requested_by:
            head = _("withdrawn by {who}").format(who=_mention(user))
        else:
            head = _("denied by {who}").format(who=_mention(user))
    else:
        return None
    lines = [_("{head}. {detail}").format(head=head, detail=error.detail) if error.detail else head]
    if error.hint:
        lines.append(_("Next: {hint}").format(hint=error.hint))
    return redact("\n".join(lines))
