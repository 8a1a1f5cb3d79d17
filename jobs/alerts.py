"""What the on-call people hear from the schedule: failures, recoveries, silence, heartbeats.

Every alert goes through ``Reporter.alert`` (the Slack reporter posts it to the alert
channel, mentioning the on-call group); this module only decides *when* and *what*.

Once across processes, and not lost to a crash: each alert is claimed on a key that names
the episode (the failed job, the newest good backup when backups went stale, the first
night the pruning guard held), and the claim, the state change that goes with it and a
row in ``schedule_alerts`` are one transaction. The alert is then handed to the reporter
(the Slack reporter keeps it in its durable outbox until Slack takes it) and the row is
marked handed over. A row left unhanded — the process died between commit and hand-over —
is handed over by the next scheduler tick after ``REDELIVER_AFTER`` seconds, so an alert
is at least once, and twice only if a process stalls that long inside those few lines.

The rows are a delivery record, not the memory of what was said: "once per episode" and
"once per streak" are decided by the claims in ``kv`` and ``schedule_followups``, which
stay. So a row handed over more than ``KEEP_DELIVERED`` ago is deleted by the scheduler's
housekeeping (``prune_delivered``) without any alert repeating; a row never handed over
stays, whatever its age, because it is the redelivery queue. The retention alerts (guard
held, retention failing) live in ``jobs.scheduled_retention``.
"""

from __future__ import annotations

import json
import logging
import math
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from core.config import Config
from core.i18n import N_, _
from core.redact import redact
from jobs.events import Alert, Reporter
from jobs.schedule_runs import PENDING_ALERTS, iso, mark_handled, parse_iso
from jobs.store import Job, Store

log = logging.getLogger(__name__)

HEARTBEAT_TIMEOUT = 10.0
REDELIVER_AFTER = 60.0  # seconds an alert may sit claimed but not handed over before another tick sends it
KEEP_DELIVERED = timedelta(days=90)  # how long a handed-over alert's row stays in the store


def oncall_mention(cfg: Config) -> str:
    return cfg.slack.oncall_group


def _fmt(t: datetime) -> str:
    return f"{t:%Y-%m-%d %H:%M} UTC"


def _hours(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:.0f} h"


# ------------------------------------------------------------------- delivery


def _claim_then_set(store: Store, key: str, value: Any, state_key: str, state: Any) -> Callable[[], bool]:
    """A claim for ``announce``: take ``key`` once; only the winner moves ``state_key`` to ``state``."""

    def claim() -> bool:
        if not store.kv_claim(key, value):
            return False
        store.kv_set(state_key, state)
        return True

    return claim


def announce(store: Store, reporter: Reporter, key: str, alert: Alert, claim: Callable[[], bool]) -> bool:
    """Run ``claim`` (the episode's claim and state change) and record the alert in one
    transaction; hand it over after commit. False when another process (or an earlier
    tick) already claimed it."""
    with store.transaction() as db:
        if not claim():
            return False
        db.execute(
            f"INSERT OR IGNORE INTO {PENDING_ALERTS} (key, alert, claimed_at) VALUES (?, ?, ?)",
            [key, json.dumps(asdict(alert), default=str), time.time()],
        )
    _hand_over(store, reporter, key, alert)
    return True


def _hand_over(store: Store, reporter: Reporter, key: str, alert: Alert) -> None:
    try:
        reporter.alert(alert)
    except Exception:
        log.exception("alert %s could not be handed over; the next tick tries again", key)
        return
    with store.transaction() as db:
        db.execute(f"UPDATE {PENDING_ALERTS} SET handed_at = ? WHERE key = ?", [time.time(), key])
        db.execute(  # a counter for /metrics that outlives the pruned delivery rows
            "INSERT INTO kv (key, value, updated_at) VALUES ('metrics:alerts_sent', '1', '') "
            "ON CONFLICT(key) DO UPDATE SET value = CAST(kv.value AS INTEGER) + 1"
        )


def redeliver(store: Store, reporter: Reporter, older_than: float = REDELIVER_AFTER) -> int:
    """Hand over alerts a process claimed and then died before handing over; returns how many."""
    cutoff = time.time() - older_than
    rows = list(
        store.db.query(
            f"SELECT key, alert, claimed_at FROM {PENDING_ALERTS} WHERE handed_at IS NULL AND claimed_at <= ?",
            [cutoff],
        )
    )
    sent = 0
    for row in rows:
        with store.transaction() as db:  # re-claim, so two ticks never both send it
            cur = db.execute(
                f"UPDATE {PENDING_ALERTS} SET claimed_at = ? WHERE key = ? AND claimed_at = ? AND handed_at IS NULL",
                [time.time(), row["key"], row["claimed_at"]],
            )
            if cur.rowcount != 1:
                continue
        log.warning("alert %s was claimed but never sent (process stopped?); sending it now", row["key"])
        _hand_over(store, reporter, row["key"], Alert(**json.loads(row["alert"])))
        sent += 1
    return sent


def prune_delivered(store: Store, keep: timedelta = KEEP_DELIVERED) -> int:
    """Delete alert rows handed over more than ``keep`` ago; returns how many went.

    Without this ``schedule_alerts`` grows by a row per alert forever. Undelivered rows
    are never touched (``redeliver`` still owes them), and nothing that decides whether an
    alert is sent reads these rows, so no streak, episode or recovery depends on one.
    Wall-clock time, like the rows' own ``claimed_at`` / ``handed_at`` and ``redeliver``.
    """
    cutoff = time.time() - keep.total_seconds()
    with store.transaction() as db:
        cur = db.execute(
            f"DELETE FROM {PENDING_ALERTS} WHERE handed_at IS NOT NULL AND handed_at < ?", [cutoff]
        )
        return cur.rowcount


# ------------------------------------------------------- scheduled job failed / recovered


# What a scheduled job of each kind is called in an alert ("Scheduled backup of `prod` failed").
_NOUNS = {
    "dump": N_("backup"),
    "verify": N_("verify"),
    "drill": N_("drill"),
    "files_sync": N_("files sync"),
    "files_verify": N_("files verify"),
    "prune": N_("prune"),
    "restore": N_("restore"),
    "restore_table": N_("restore table"),
    "branch": N_("branch"),
}


def _noun(job: Job) -> str:
    noun = _NOUNS.get(job.kind)
    return _(noun) if noun else job.kind.replace("_", " ")


def job_failed(cfg: Config, store: Store, reporter: Reporter, job: Job, entry: str) -> bool:
    """A scheduled job (or its retry) ended badly: alert with its error and a Retry button.

    The job's follow-up claim is the alert's claim, so the alert is sent once per job.
    """

    def claim() -> bool:
        if not mark_handled(store, job.id, str(job.status)):
            return False
        if not store.kv_get(f"schedule:{entry}:failing"):
            store.kv_set(
                f"schedule:{entry}:failing", {"since": job.finished_at or job.updated_at, "job_id": job.id}
            )
        return True

    error = job.error or {"message": _("{job} ended {status}").format(job=job.title, status=job.status.label)}
    if job.database:
        title = _("Scheduled {what} of `{db}` {status} (job {id})").format(
            what=_noun(job), db=job.database, status=job.status.label, id=job.id
        )
    else:
        title = _("Scheduled {what} {status} (job {id})").format(
            what=_noun(job), status=job.status.label, id=job.id
        )
    alert = Alert(
        title=title,
        severity="failure",
        database=job.database,
        error=error,
        job_id=job.id,
        retry=True,
        mention=oncall_mention(cfg),
    )
    return announce(store, reporter, f"job-failed:{job.id}", alert, claim)


def job_succeeded(cfg: Config, store: Store, reporter: Reporter, job: Job, entry: str) -> None:
    """Post the recovery if this schedule was failing; once, whichever process sees it first."""
    state = store.kv_get(f"schedule:{entry}:failing")
    if not state:
        return
    key = f"schedule:{entry}:recovered:{state.get('job_id')}"
    claim = _claim_then_set(store, key, job.id, f"schedule:{entry}:failing", None)
    if job.database:
        works = _("Scheduled {what} of `{db}` works again (job {id}).").format(
            what=_noun(job), db=job.database, id=job.id
        )
    else:
        works = _("Scheduled {what} works again (job {id}).").format(what=_noun(job), id=job.id)
    lines = [works]
    if job.result and job.result.get("backup_id"):
        lines.append(_("Backup `{backup}` is stored.").format(backup=job.result["backup_id"]))
    since = str(state.get("since", "?"))[:16].replace("T", " ")
    lines.append(_("It had been failing since {since} UTC.").format(since=since))
    alert = Alert(
        title=" ".join(lines),
        severity="recovered",
        database=job.database,
        job_id=job.id,
        mention=oncall_mention(cfg),
    )
    announce(store, reporter, key, alert, claim)


# -------------------------------------------------------------------- dead-man's switch


@dataclass(frozen=True)
class Freshness:
    database: str
    newest_id: str | None
    newest_at: datetime | None
    reference: datetime  # newest_at, or when watching began if there is no backup at all


def check_deadman(cfg: Config, store: Store, reporter: Reporter, fresh: Freshness, now: datetime) -> str:
    """Alert once when the newest good backup is too old, remind each period, say when it's fixed.

    Returns what it did ("ok", "alerted", "reminded", "quiet", "recovered") for logs and tests.
    """
    db = cfg.database(fresh.database)
    state_key = f"deadman:{db.name}"
    state: dict[str, Any] | None = store.kv_get(state_key)
    age = now - fresh.reference
    limit = timedelta(hours=db.max_age_hours)
    if age <= limit:
        if not state:
            return "ok"
        key = f"{state['episode']}:recovered"
        recovered = _claim_then_set(store, key, iso(now), state_key, None)
        alert = Alert(
            title=_(
                "Backups of `{db}` are fresh again: `{newest}` is {age} old "
                "(none had been taken since {since})."
            ).format(db=db.name, newest=fresh.newest_id, age=_hours(age), since=state["stale_since"]),
            severity="recovered",
            database=db.name,
            mention=oncall_mention(cfg),
        )
        return "recovered" if announce(store, reporter, key, alert, recovered) else "ok"

    if fresh.newest_id:
        detail = _("The newest good backup is `{id}`, taken {when}.").format(
            id=fresh.newest_id, when=_fmt(fresh.reference)
        )
    else:
        detail = _("No backup of `{db}` exists; the schedule has been watched since {when}.").format(
            db=db.name, when=_fmt(fresh.reference)
        )
    error = {
        "message": _("no good backup of '{db}' for {age} (limit {limit} h)").format(
            db=db.name, age=_hours(age), limit=f"{db.max_age_hours:g}"
        ),
        "detail": detail,
        "hint": _(
            "Check the scheduled job's alerts in this channel, then take one now with `/backup dump {db}`."
        ).format(db=db.name),
    }
    if not state:
        episode = f"deadman:{db.name}:{fresh.newest_id or 'none'}:{iso(fresh.reference)}"
        first = _claim_then_set(
            store,
            f"{episode}:alert",
            iso(now),
            state_key,
            {"episode": episode, "alerted_at": iso(now), "stale_since": _fmt(fresh.reference)},
        )
        alert = Alert(
            title=_("No good backup of `{db}` for {age}").format(db=db.name, age=_hours(age)),
            severity="failure",
            database=db.name,
            error=error,
            mention=oncall_mention(cfg),
        )
        return "alerted" if announce(store, reporter, f"{episode}:alert", alert, first) else "quiet"
    every = timedelta(hours=cfg.alerts.deadman_reminder_hours)
    periods = math.floor((now - parse_iso(state["alerted_at"])) / every)
    if periods < 1:
        return "quiet"
    key = f"{state['episode']}:reminder:{periods}"
    alert = Alert(
        title=_("Reminder: still no good backup of `{db}` ({age})").format(db=db.name, age=_hours(age)),
        severity="failure",
        database=db.name,
        error=error,
        mention=oncall_mention(cfg),
    )
    return (
        "reminded"
        if announce(store, reporter, key, alert, lambda: store.kv_claim(key, iso(now)))
        else "quiet"
    )


# ------------------------------------------------------------------------- heartbeat


def ping_heartbeat(url: str) -> bool:
    """GET the external monitor's URL after a good nightly; a failure is logged, never raised.

    The URL often embeds a secret check id, so only its host ever reaches the log.
    """
    if not url:
        return False
    host = urlsplit(url).hostname or "?"
    if urlsplit(url).scheme not in ("http", "https"):
        log.warning("heartbeat URL for %s is not http(s); not pinged", host)
        return False
    try:
        with urllib.request.urlopen(url, timeout=HEARTBEAT_TIMEOUT) as resp:  # noqa: S310 - scheme checked
            ok = 200 <= resp.status < 400
    except (urllib.error.URLError, OSError) as exc:
        log.warning("heartbeat ping to %s failed: %s", host, redact(type(exc).__name__))
        return False
    if not ok:
        log.warning("heartbeat ping to %s answered %s", host, resp.status)
    return ok
