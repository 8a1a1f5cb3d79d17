"""Old rows of the scheduler's bookkeeping are deleted, so the store does not grow forever.

What the streak logic needs stays: the current state of each streak (``…:failing``,
``…:held``, ``deadman:<db>`` while set), the watch start of each configured schedule, the
newest claimed slot of every schedule entry (``last_slot`` reads it) and every row younger
than ``KEEP`` — which is where the once-only claims matter, while two processes may still
race for the same alert, slot or follow-up. What goes after ``KEEP`` (wall-clock time, like
the rows' own timestamps and ``jobs.alerts.prune_delivered``):

- kv claims of finished episodes (``…:recovered…``, ``…:alert``, ``…:reminder:N``): each is
  read only while its episode is the current one, and an episode's current state is kept;
- kv rows whose streak ended (value ``null``: reading a missing key gives the same ``None``);
- watch starts of cron / time-zone combinations no longer configured (one seen again later
  starts watching from then, as a changed schedule does);
- claimed slots other than each entry's newest;
- follow-up claims of jobs that ended before a mark: the cutoff, or earlier if a job that
  ended before it still waits for its follow-up. The mark is kept in kv and
  ``finished_unhandled`` ignores jobs that ended before it, so a job whose claim was
  deleted is never followed up (alerted, pruned) a second time, and none is skipped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from jobs.store import Store

KEEP = timedelta(days=90)
_CLAIM = re.compile(r":(recovered|alert|reminder)(:|$)")


def cutoff_text(now: datetime | None = None, keep: timedelta = KEEP) -> str:
    """The cutoff in the stores' own timestamp form (``jobs.audit.utcnow``), for text comparison."""
    at = (now or datetime.now(UTC)) - keep
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def prune_bookkeeping(
    store: Store, current_watch_keys: Iterable[str], now: datetime | None = None, keep: timedelta = KEEP
) -> dict[str, int]:
    """Delete what is described above; returns how many rows went, per table."""
    from jobs import schedule_runs

    schedule_runs.ensure_schema(store)
    cutoff = cutoff_text(now, keep)
    watching = set(current_watch_keys)
    gone = {"kv": 0, "slots": 0, "followups": 0}
    with store.transaction() as db:
        rows = list(db.query("SELECT key, value FROM kv WHERE updated_at < ?", [cutoff]))
        doomed = [
            r["key"]
            for r in rows
            if _CLAIM.search(r["key"])
            or r["value"] == "null"
            or (":watching:" in r["key"] and r["key"] not in watching)
        ]
        for key in doomed:
            gone["kv"] += db.execute("DELETE FROM kv WHERE key = ?", [key]).rowcount
        gone["slots"] = db.execute(
            f"DELETE FROM {schedule_runs.TABLE} WHERE claimed_at < ? AND slot < "
            f"(SELECT max(s.slot) FROM {schedule_runs.TABLE} s WHERE s.entry = {schedule_runs.TABLE}.entry)",
            [cutoff],
        ).rowcount
        waiting = schedule_runs.oldest_unhandled(db)
        mark = min(cutoff, waiting) if waiting else cutoff
        rows = list(db.execute("SELECT value FROM kv WHERE key = ?", [schedule_runs.FOLLOWUPS_PRUNED_BEFORE]))
        if not rows or json.loads(rows[0][0]) < mark:
            db.execute(
                "INSERT OR REPLACE INTO kv (key, value, updated_at) VALUES (?, ?, ?)",
                [schedule_runs.FOLLOWUPS_PRUNED_BEFORE, json.dumps(mark), cutoff_text(keep=timedelta(0))],
            )
        else:
            mark = json.loads(rows[0][0])
        gone["followups"] = db.execute(
            f"DELETE FROM {schedule_runs.FOLLOWUPS} WHERE job_id IN "
            "(SELECT id FROM jobs WHERE coalesce(finished_at, updated_at) < ?)",
            [mark],
        ).rowcount
    return gone
