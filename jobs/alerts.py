"""What the on-call people hear from the schedule: failures, recoveries, silence, heartbeats.

Every alert goes through ``Reporter.alert`` (the Slack reporter posts it to the alert
channel, mentioning the on-call group); this module only decides *when* and *what*.

Exactly-once across processes: each alert is guarded by a ``kv_claim`` on a key that names
the episode (the failed job, or the newest good backup at the time backups went stale), so
two bot processes sharing the store never both post it, and a restart does not repeat it.
"""

from __future__ import annotations

import logging
import math
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from core.config import Config
from core.redact import redact
from jobs.events import Alert, Reporter
from jobs.schedule_runs import iso, parse_iso
from jobs.store import Job, Store

log = logging.getLogger(__name__)

DEADMAN_REMINDER_HOURS = 24.0
HEARTBEAT_TIMEOUT = 10.0


def _mention(cfg: Config) -> str:
    return cfg.slack.oncall_group


def _fmt(t: datetime) -> str:
    return f"{t:%Y-%m-%d %H:%M} UTC"


def _hours(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:.0f} h"


# ------------------------------------------------------- scheduled job failed / recovered


def _noun(job: Job) -> str:
    return {"dump": "backup"}.get(job.kind, job.kind.replace("_", " "))


def job_failed(cfg: Config, store: Store, reporter: Reporter, job: Job, entry: str) -> None:
    """A scheduled job (or its retry) ended badly: alert with its error and a Retry button."""
    state = store.kv_get(f"schedule:{entry}:failing")
    if not state:
        store.kv_set(
            f"schedule:{entry}:failing", {"since": job.finished_at or job.updated_at, "job_id": job.id}
        )
    target = f" of `{job.database}`" if job.database else ""
    error = job.error or {"message": f"{job.title} ended {job.status.label}"}
    reporter.alert(
        Alert(
            title=f"Scheduled {_noun(job)}{target} {job.status.label} (job {job.id})",
            severity="failure",
            database=job.database,
            error=error,
            job_id=job.id,
            retry=True,
            mention=_mention(cfg),
        )
    )


def job_succeeded(cfg: Config, store: Store, reporter: Reporter, job: Job, entry: str) -> None:
    """Post the recovery if this schedule was failing; once, whichever process sees it first."""
    state = store.kv_get(f"schedule:{entry}:failing")
    if not state:
        return
    if not store.kv_claim(f"schedule:{entry}:recovered:{state.get('job_id')}", job.id):
        return
    store.kv_set(f"schedule:{entry}:failing", None)
    target = f" of `{job.database}`" if job.database else ""
    what = ""
    if job.result and job.result.get("backup_id"):
        what = f": `{job.result['backup_id']}` stored"
    reporter.alert(
        Alert(
            title=f"Scheduled {_noun(job)}{target} works again (job {job.id}){what}. "
            f"It had been failing since {state.get('since', '?')[:16].replace('T', ' ')} UTC.",
            severity="recovered",
            database=job.database,
            job_id=job.id,
            mention=_mention(cfg),
        )
    )


# -------------------------------------------------------------------- dead-man's switch


@dataclass(frozen=True)
class Freshness:
    database: str
    newest_id: str | None
    newest_at: datetime | None
    reference: datetime  # newest_at, or when watching began if there is no backup at all


def check_deadman(
    cfg: Config,
    store: Store,
    reporter: Reporter,
    fresh: Freshness,
    now: datetime,
    reminder_hours: float = DEADMAN_REMINDER_HOURS,
) -> str:
    """Alert once when the newest good backup is too old, remind each period, say when it's fixed.

    Returns what it did ("ok", "alerted", "reminded", "quiet", "recovered") for logs and tests.
    """
    db = cfg.database(fresh.database)
    state_key = f"deadman:{db.name}"
    state: dict[str, Any] | None = store.kv_get(state_key)
    age = now - fresh.reference
    limit = timedelta(hours=db.max_age_hours)
    if age <= limit:
        if state and store.kv_claim(f"{state['episode']}:recovered", iso(now)):
            store.kv_set(state_key, None)
            reporter.alert(
                Alert(
                    title=f"Backups of `{db.name}` are fresh again: `{fresh.newest_id}` is {_hours(age)} old "
                    f"(none had been taken since {state['stale_since']}).",
                    severity="recovered",
                    database=db.name,
                    mention=_mention(cfg),
                )
            )
            return "recovered"
        return "ok"

    if fresh.newest_id:
        detail = f"The newest good backup is `{fresh.newest_id}`, taken {_fmt(fresh.reference)}."
    else:
        detail = (
            f"No backup of `{db.name}` exists; the schedule has been watched since {_fmt(fresh.reference)}."
        )
    error = {
        "message": f"no good backup of '{db.name}' for {_hours(age)} (limit {db.max_age_hours:g} h)",
        "detail": detail,
        "hint": f"Check the scheduled job's alerts in this channel, then take one now with `/backup dump {db.name}`.",
    }
    if not state:
        episode = f"deadman:{db.name}:{fresh.newest_id or 'none'}:{iso(fresh.reference)}"
        if not store.kv_claim(f"{episode}:alert", iso(now)):
            return "quiet"
        store.kv_set(
            state_key, {"episode": episode, "alerted_at": iso(now), "stale_since": _fmt(fresh.reference)}
        )
        reporter.alert(
            Alert(
                title=f"No good backup of `{db.name}` for {_hours(age)}",
                severity="failure",
                database=db.name,
                error=error,
                mention=_mention(cfg),
            )
        )
        return "alerted"
    periods = math.floor((now - parse_iso(state["alerted_at"])) / timedelta(hours=reminder_hours))
    if periods >= 1 and store.kv_claim(f"{state['episode']}:reminder:{periods}", iso(now)):
        reporter.alert(
            Alert(
                title=f"Reminder: still no good backup of `{db.name}` ({_hours(age)})",
                severity="failure",
                database=db.name,
                error=error,
                mention=_mention(cfg),
            )
        )
        return "reminded"
    return "quiet"


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
