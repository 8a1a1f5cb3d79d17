"""The App Home tab: at a glance, whether each database's data is safe and what waits on whom.

Built for one person each time they open the tab (``app_home_opened`` → ``views.publish``):
per database the newest good backup and its age, whether that backup was verified (its
``{id}.verify.json`` beside the manifest), the last restore drill, the next scheduled run
and any freeze; running and queued jobs; restore requests waiting for approval, with
Approve / Deny buttons only for the leads who may approve that one (never its requester).
The buttons carry the same job and binding as the request message's, and go through the
same ``jobs.approvals``. Built with slack_sdk's block models (``bot.blocks``), each value
cut to Slack's limits, each long list ending in "…and N more".
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from typing import Any

from slack_sdk.models.blocks import Block

from bot import blocks as bk
from bot.render import noun, status_label
from core.config import Config
from core.i18n import _, ngettext
from core.slack_text import cut, escape, mention
from core.units import human_bytes
from jobs.status import TERMINAL, JobStatus
from jobs.store import Job, Store

APPROVE_ACTION = "home_restore_approve"
DENY_ACTION = "home_restore_deny"
LIST_TTL = 60.0  # seconds a bucket listing is reused between people opening the tab
SHOW = 10
VIEW_BLOCKS = 100  # Slack's limit for a Home tab view
# Databases shown one section each; past this, the rest are counted (the view keeps room
# for the jobs, the requests and the freezes).
DATABASES_SHOWN = 40
_DRILL_KEY = "drill:last:{db}"  # engine.drill's record of the last drill that passed

# storage url → (when listed, what the store had seen finish then, newest per database, verifications)
_cache: dict[str, tuple[float, str, dict[str, Any], dict[str, dict[str, Any]]]] = {}
_cache_lock = threading.Lock()


def _age(seconds: float) -> str:
    if seconds < 90:
        return _("just now")
    if seconds < 90 * 60:
        return _("{n} min ago").format(n=f"{seconds / 60:.0f}")
    if seconds < 48 * 3600:
        return _("{n} h ago").format(n=f"{seconds / 3600:.0f}")
    days = round(seconds / 86400)
    return ngettext("{n} day ago", "{n} days ago", days).format(n=days)


def newest_good(cfg: Config, store: Store | None = None) -> dict[str, Any]:
    """Newest good backup manifest per database, from a listing at most ``LIST_TTL`` old."""
    return _listing(cfg, store)[0]


def _bucket_changed_marker(store: Store | None) -> str:
    """When a job that changes the bucket (or a verification in it) last ended, as far as the store knows."""
    if store is None:
        return ""
    rows = store.db.query(
        "SELECT max(updated_at) AS at FROM jobs WHERE kind IN ('dump', 'verify', 'drill', 'prune') "
        "AND status IN ('succeeded', 'failed', 'interrupted')"
    )
    return str(next(iter(rows))["at"] or "")


def _listing(cfg: Config, store: Store | None = None) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The newest good backup per database and the stored verification of each, cached together.

    The listing is reused for ``LIST_TTL`` seconds, unless a dump, verification, drill or prune
    ended since: whoever opens the tab after one sees what it did.
    """
    from adapters.storage import open_storage
    from engine import verify_record
    from engine.catalog import list_backups
    from engine.prune import backup_ref

    marker = _bucket_changed_marker(store)
    with _cache_lock:
        hit = _cache.get(cfg.storage.url)
        if hit and time.monotonic() - hit[0] < LIST_TTL and hit[1] == marker:
            return hit[2], hit[3]
    storage = open_storage(cfg.storage)
    newest: dict[str, Any] = {}
    for m in list_backups(cfg, storage=storage):
        if m.database not in newest and backup_ref(m).good:
            newest[m.database] = m
    verified = verify_record.outcomes(storage, list(newest.values()))
    with _cache_lock:
        _cache[cfg.storage.url] = (time.monotonic(), marker, newest, verified)
    return newest, verified


def _next_runs(cfg: Config, now: datetime) -> dict[str, datetime]:
    from jobs.scheduler import nightly_dumps

    try:
        return {e.database: e.next_slot(now) for e in nightly_dumps(cfg) if e.database}
    except Exception:
        return {}


def _verify_line(name: str, outcome: dict[str, Any] | None) -> str:
    """Whether the newest good backup was proven restorable (a stored verification), and how to prove it."""
    if not outcome:
        return _(":grey_question: not verified yet — `/backup verify latest {db}`").format(db=name)
    day = escape(str(outcome.get("verified_at", ""))[:10])
    if outcome.get("result") == "passed":
        return _(":white_check_mark: verified {day}").format(day=day)
    step = outcome.get("failed_step")
    if outcome.get("result") == "failed":
        if step:
            return _(":x: verification FAILED {day} (step {step})").format(day=day, step=escape(str(step)))
        return _(":x: verification FAILED {day}").format(day=day)
    return _(":warning: the verification of {day} could not finish — `/backup verify latest {db}`").format(
        day=day, db=name
    )


def _drill_line(store: Store, name: str) -> str:
    """The last restore drill of ``name``: the drill job's outcome and date, or the stored record."""
    jobs = store.list_jobs(statuses=TERMINAL, database=name, kind="drill", limit=1)
    if jobs:
        job = jobs[0]
        day = (job.finished_at or job.updated_at or "")[:10]
        if job.status == JobStatus.SUCCEEDED:
            seconds = (job.result or {}).get("seconds")
            if isinstance(seconds, int | float):
                return _(
                    ":white_check_mark: last drill passed {day}, recovered in {seconds} s (job {id})"
                ).format(day=day, seconds=f"{seconds:.1f}", id=job.id)
            return _(":white_check_mark: last drill passed {day} (job {id})").format(day=day, id=job.id)
        return _(":x: last drill {status} {day} (job {id}): `/backup status {id}`").format(
            status=status_label(job.status), day=day, id=job.id
        )
    record = store.kv_get(_DRILL_KEY.format(db=name))
    if isinstance(record, dict) and record.get("at"):
        return _(":white_check_mark: last drill passed {day}, recovered in {seconds} s").format(
            day=escape(str(record["at"])[:10]), seconds=f"{float(record.get('seconds') or 0):.1f}"
        )
    return _("no restore drill yet")


def _database_blocks(cfg: Config, store: Store, now: datetime, errors: list[str]) -> list[Block]:
    from jobs.freeze import is_frozen

    try:
        newest, verified = _listing(cfg, store)
    except Exception as exc:
        from core.redact import redact

        newest, verified = {}, {}
        errors.append(
            _(":warning: The bucket could not be listed: {error}").format(
                error=escape(cut(redact(str(exc)), 300))
            )
        )
    runs = _next_runs(cfg, now)
    blocks: list[Block] = []
    names = sorted(cfg.databases)
    for name in names[:DATABASES_SHOWN]:
        m = newest.get(name)
        lines = [f"*{escape(name)}*"]
        if m is None:
            lines.append(_(":x: no good backup yet — `/backup dump {db}`").format(db=name))
        else:
            age = (now - m.created_at).total_seconds()
            stale = age > cfg.databases[name].max_age_hours * 3600
            mark = ":warning:" if stale else ":white_check_mark:"
            lines.append(
                _("{mark} newest good backup `{id}` ({size}), {age}").format(
                    mark=mark, id=escape(m.id), size=human_bytes(m.stored_bytes), age=_age(age)
                )
            )
        nxt = runs.get(name)
        if nxt:
            lines.append(_("next scheduled run {at} UTC").format(at=f"{nxt:%Y-%m-%d %H:%M}"))
        else:
            lines.append(_("no schedule"))
        if m is not None:
            lines.append(_verify_line(name, verified.get(m.id)))
        lines.append(_drill_line(store, name))
        frozen = is_frozen(store, name)
        if frozen:
            lines.append(f":snowflake: {frozen.describe()}")
        blocks.append(bk.section(lines))
    if len(names) > DATABASES_SHOWN:
        left = len(names) - DATABASES_SHOWN
        blocks.append(
            bk.section(
                ngettext(
                    "…and {n} more database (`/backup list`)",
                    "…and {n} more databases (`/backup list`)",
                    left,
                ).format(n=left)
            )
        )
    return blocks


def _button(job: Job, action: str, label: str, style: str, title: str, text: str) -> bk.ButtonElement:
    confirm = bk.confirm(title, text, label, _("Back"))
    value = json.dumps({"job": job.id, "binding": job.params.get("binding", "")})
    return bk.button(action, label, value, style, confirm)


def _more_jobs(n: int) -> str:
    return ngettext("…and {n} more (`/backup status`)", "…and {n} more (`/backup status`)", n).format(n=n)


def _job_line(j: Job) -> str:
    values = {"emoji": j.status.emoji, "id": j.id, "what": noun(j), "db": escape(j.database or "-")}
    line = _("{emoji} job {id}: {what} `{db}` {status}").format(status=status_label(j.status), **values)
    if j.progress and j.status == JobStatus.RUNNING:
        line += f" — {escape(j.progress)}"
    return line


def build_home(cfg: Config, store: Store, user: str, directory: Any = None, note: str = "") -> dict[str, Any]:
    """The ``home`` view for ``user``, as of now."""
    from jobs.approvals import is_approver
    from jobs.freeze import all_freezes

    now = datetime.now(UTC)
    errors: list[str] = []
    blocks: list[Block] = [bk.header("backupbot")]
    if note:
        blocks.append(bk.context(note))
    blocks.append(bk.section(_("*Databases*")))
    blocks += _database_blocks(cfg, store, now, errors)
    blocks += [bk.section(e) for e in errors]
    blocks.append(bk.divider())

    active = store.list_jobs(statuses=[JobStatus.RUNNING, JobStatus.QUEUED], limit=50)
    lines = [_job_line(j) for j in reversed(active[:SHOW])]
    if len(active) > SHOW:
        lines.append(_more_jobs(len(active) - SHOW))
    blocks.append(bk.section([_("*Running jobs*"), *(lines or [_("None.")])], more=_more_jobs))

    waiting = store.list_jobs(statuses=[JobStatus.AWAITING_APPROVAL], kind="restore", limit=50)
    blocks.append(bk.section(_("*Waiting for approval*") + ("" if waiting else "\n" + _("None."))))
    for job in reversed(waiting[:SHOW]):
        reason = job.params.get("reason") or ""
        values = {
            "id": job.id,
            "backup": escape(job.params.get("backup_id", "?")),
            "db": escape(job.database or "?"),
            "who": mention(job.requested_by),
        }
        head = _(":raised_hand: *Restore request {id}*: `{backup}` into `{db}`, asked by {who}").format(
            **values
        )
        if reason:
            head += f' — "{escape(cut(str(reason), 500))}"'
        count = _("Approvals: {have} of {required} · expires at {expires}").format(
            have=len(job.params.get("approved_by", []) or []),
            required=job.params.get("approvals_required", 1),
            expires=escape(job.params.get("expires_at_text", "?")),
        )
        blocks.append(bk.section([head, count]))
        if user != job.requested_by and job.database and is_approver(cfg, job.database, user, directory):
            what = {"backup": values["backup"], "db": values["db"]}
            blocks.append(
                bk.actions(
                    [
                        _button(
                            job,
                            APPROVE_ACTION,
                            _("Approve"),
                            "primary",
                            _("Approve restore {id}?").format(id=job.id),
                            _("Approve restoring `{backup}` into `{db}`.").format(**what),
                        ),
                        _button(
                            job,
                            DENY_ACTION,
                            _("Deny"),
                            "danger",
                            _("Deny restore {id}?").format(id=job.id),
                            _("Deny restoring `{backup}` into `{db}`.").format(**what),
                        ),
                    ],
                    block_id=f"home_restore_{job.id}",
                )
            )
    if len(waiting) > SHOW:
        blocks.append(bk.section(_more_jobs(len(waiting) - SHOW)))

    freezes = all_freezes(store)
    blocks.append(bk.divider())
    frozen = [f":snowflake: `{escape(f.database)}` {f.describe()}" for f in freezes]
    blocks.append(bk.section([_("*Freezes*"), *(frozen or [_("None.")])]))
    blocks.append(
        bk.context(_("As of {at} UTC · `/backup help` lists the commands").format(at=f"{now:%Y-%m-%d %H:%M}"))
    )
    return {"type": "home", "blocks": bk.to_dicts(blocks, VIEW_BLOCKS)}
