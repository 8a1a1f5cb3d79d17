"""The App Home tab: at a glance, whether each database's data is safe and what waits on whom.

Built for one person each time they open the tab (``app_home_opened`` → ``views.publish``):
per database the newest good backup and its age, the next scheduled run and any freeze;
running and queued jobs; restore requests waiting for approval, with Approve / Deny buttons
only for the leads who may approve that one (never its requester). The buttons carry the
same job and binding as the request message's, and go through the same ``jobs.approvals``.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from typing import Any

from core.config import Config
from core.slack_text import escape
from core.units import human_bytes
from jobs.status import JobStatus
from jobs.store import Job, Store

APPROVE_ACTION = "home_restore_approve"
DENY_ACTION = "home_restore_deny"
LIST_TTL = 60.0  # seconds a bucket listing is reused between people opening the tab
SHOW = 10

_cache: dict[str, tuple[float, dict[str, Any]]] = {}
_cache_lock = threading.Lock()


def _esc(text: str) -> str:
    return escape(text)


def _age(seconds: float) -> str:
    if seconds < 90:
        return "just now"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / 86400:.0f} days ago"


def newest_good(cfg: Config) -> dict[str, Any]:
    """Newest good backup manifest per database, from a listing at most ``LIST_TTL`` old."""
    from engine.catalog import list_backups
    from engine.prune import backup_ref

    with _cache_lock:
        hit = _cache.get(cfg.storage.url)
        if hit and time.monotonic() - hit[0] < LIST_TTL:
            return hit[1]
    newest: dict[str, Any] = {}
    for m in list_backups(cfg):
        if m.database not in newest and backup_ref(m).good:
            newest[m.database] = m
    with _cache_lock:
        _cache[cfg.storage.url] = (time.monotonic(), newest)
    return newest


def _next_runs(cfg: Config, now: datetime) -> dict[str, datetime]:
    from jobs.scheduler import nightly_dumps

    try:
        return {e.database: e.next_slot(now) for e in nightly_dumps(cfg) if e.database}
    except Exception:
        return {}


def _section(text: str, accessory: dict[str, Any] | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn", "text": text[:2900]}}
    if accessory:
        block["accessory"] = accessory
    return block


def _button(job: Job, action: str, label: str, style: str, verb: str) -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": action,
        "text": {"type": "plain_text", "text": label},
        "style": style,
        "value": json.dumps({"job": job.id, "binding": job.params.get("binding", "")}),
        "confirm": {
            "title": {"type": "plain_text", "text": f"{label} restore {job.id}?"},
            "text": {
                "type": "mrkdwn",
                "text": f"{verb} restoring `{job.params.get('backup_id', '?')}` into `{job.database}`.",
            },
            "confirm": {"type": "plain_text", "text": label},
            "deny": {"type": "plain_text", "text": "Back"},
        },
    }


def _database_lines(cfg: Config, store: Store, now: datetime, errors: list[str]) -> list[dict[str, Any]]:
    from jobs.freeze import is_frozen

    try:
        newest = newest_good(cfg)
    except Exception as exc:
        from core.redact import redact

        newest = {}
        errors.append(f":warning: The bucket could not be listed: {_esc(redact(str(exc))[:300])}")
    runs = _next_runs(cfg, now)
    blocks = []
    for name in sorted(cfg.databases):
        m = newest.get(name)
        if m is None:
            backup = ":x: no good backup yet — `/backup dump " + name + "`"
        else:
            age = (now - m.created_at).total_seconds()
            stale = age > cfg.databases[name].max_age_hours * 3600
            mark = ":warning:" if stale else ":white_check_mark:"
            backup = f"{mark} newest good backup `{m.id}` ({human_bytes(m.stored_bytes)}), {_age(age)}"
        nxt = runs.get(name)
        schedule = f"next scheduled run {nxt:%Y-%m-%d %H:%M} UTC" if nxt else "no schedule"
        frozen = is_frozen(store, name)
        freeze = f"\n:snowflake: {frozen.describe()}" if frozen else ""
        blocks.append(_section(f"*{name}*\n{backup}\n{schedule}{freeze}"))
    return blocks


def build_home(cfg: Config, store: Store, user: str, directory: Any = None, note: str = "") -> dict[str, Any]:
    """The ``home`` view for ``user``, as of now."""
    from jobs.approvals import is_approver
    from jobs.freeze import all_freezes

    now = datetime.now(UTC)
    errors: list[str] = []
    blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": "backupbot"}}]
    if note:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": note[:2900]}]})
    blocks.append(_section("*Databases*"))
    blocks += _database_lines(cfg, store, now, errors)
    blocks += [_section(e) for e in errors]
    blocks.append({"type": "divider"})

    active = store.list_jobs(statuses=[JobStatus.RUNNING, JobStatus.QUEUED], limit=50)
    lines = [
        f"{j.status.emoji} job {j.id}: {j.kind} `{j.database or '-'}` {j.status.label}"
        + (f" — {_esc(j.progress)}" if j.progress and j.status == JobStatus.RUNNING else "")
        for j in reversed(active[:SHOW])
    ]
    more = f"\n…and {len(active) - SHOW} more (`/backup status`)" if len(active) > SHOW else ""
    blocks.append(_section("*Running jobs*\n" + ("\n".join(lines) + more if lines else "None.")))

    waiting = store.list_jobs(statuses=[JobStatus.AWAITING_APPROVAL], kind="restore", limit=50)
    blocks.append(_section("*Waiting for approval*" + ("" if waiting else "\nNone.")))
    for job in reversed(waiting[:SHOW]):
        reason = job.params.get("reason") or ""
        text = (
            f":raised_hand: *Restore request {job.id}*: `{job.params.get('backup_id', '?')}` into "
            f"`{job.database}`, asked by <@{job.requested_by}>"
            + (f' — "{_esc(str(reason))}"' if reason else "")
            + f"\nApprovals: {len(job.params.get('approved_by', []) or [])} of "
            f"{job.params.get('approvals_required', 1)} · expires at {job.params.get('expires_at_text', '?')}"
        )
        blocks.append(_section(text))
        if user != job.requested_by and job.database and is_approver(cfg, job.database, user, directory):
            blocks.append(
                {
                    "type": "actions",
                    "block_id": f"home_restore_{job.id}",
                    "elements": [
                        _button(job, APPROVE_ACTION, "Approve", "primary", "Approve"),
                        _button(job, DENY_ACTION, "Deny", "danger", "Deny"),
                    ],
                }
            )
    if len(waiting) > SHOW:
        blocks.append(_section(f"…and {len(waiting) - SHOW} more (`/backup status`)"))

    freezes = all_freezes(store)
    blocks.append({"type": "divider"})
    blocks.append(
        _section(
            "*Freezes*\n"
            + ("\n".join(f":snowflake: `{f.database}` {f.describe()}" for f in freezes) if freezes else "None.")
        )
    )
    blocks.append(
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": f"As of {now:%Y-%m-%d %H:%M} UTC · `/backup help` lists the commands"}],
        }
    )
    return {"type": "home", "blocks": blocks[:100]}
