"""The schedule: cron entries become jobs, and what happens after a scheduled job ends.

A schedule entry is (job kind, database, cron, time zone, params); the nightly dump of
each configured database is one, and later job kinds (restore drill, files check) add
theirs through ``ENTRY_SOURCES`` without the scheduler knowing what they do.

Choices a reader should know:

* Missed runs. After downtime only the *latest* missed slot runs, once, on start — a
  bot down for three nights takes one backup, not three in a row. The job says how many
  slots were skipped. An entry seen for the first time (a new deployment, a changed cron
  or time zone) starts watching from now instead of running a slot from the past.
* One process per slot: the slot is claimed with a UNIQUE insert (``schedule_runs``).
* The clock is injected (``clock``) and ``tick(now)`` does one pass, so tests drive days
  of schedule in milliseconds and nothing here ever sleeps except the real loop.
* Scheduled dumps are kind ``daily``. There is no separate "monthly" run: retention's
  monthly rule keeps the newest scheduled backup of each month, whatever its kind. (An
  extra entry with ``params={"kind": "monthly"}`` is possible and counts the same.)
* After a scheduled dump succeeds, retention is applied inline — with the pruning guard —
  and its one-line result goes into the dump's thread; the heartbeat URL is pinged. If the
  guard kept backups, or retention failed (a refused delete, an unreachable bucket), on-call
  hear it once per streak of such nights and once when it works again
  (``jobs.scheduled_retention``). After a scheduled job fails, an alert with a Retry button
  goes to the alert channel. Each follow-up happens once per job, also for retries; alerts
  survive a crash (``jobs.alerts``).
* Every ``deadman_every`` the dead-man's switch looks at the newest good backup of each
  scheduled database (``jobs.alerts.check_deadman``), repeating its alert every
  ``[alerts] deadman_reminder_hours``.
* Every ``HOUSEKEEPING_EVERY`` alert rows handed over more than ``keep_delivered`` (90 days,
  ``jobs.alerts.KEEP_DELIVERED``) ago are deleted, so the SQLite file does not grow by a row
  per alert forever; undelivered rows stay until they are delivered. The same pass deletes
  the scheduler's own bookkeeping (kv claims, slots, follow-ups) older than
  ``keep_bookkeeping`` that no streak needs any more (``jobs.housekeeping``).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from adapters.storage import Storage, open_storage
from core.config import Config
from core.errors import BackupbotError, ConfigError
from core.i18n import _
from jobs import alerts, housekeeping, kinds, schedule_runs, scheduled_retention, scheduled_verify
from jobs.events import Reporter, guarded
from jobs.scheduled_verify import scratch_lane
from jobs.status import JobStatus
from jobs.store import Job, Store

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
MAX_MISSED_COUNT = 10_000  # counting skipped slots stops here (a minutely cron down for a week)
POLL_SECONDS = 30.0
DEADMAN_EVERY = timedelta(minutes=10)
HOUSEKEEPING_EVERY = timedelta(hours=1)  # how often delivered alert rows past their keep are deleted


def utc_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ScheduleEntry:
    job_kind: str
    database: str | None
    cron: str
    timezone: str = "UTC"
    params: dict[str, Any] = field(default_factory=dict)
    lane: str | None = None  # what its jobs queue behind; default: the database

    @property
    def key(self) -> str:
        return f"{self.job_kind}:{self.database or '*'}"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def latest_slot(self, now: datetime) -> datetime:
        """The newest cron time at or before ``now`` (second precision), in UTC."""
        base = now.astimezone(self.tz).replace(microsecond=0) + timedelta(seconds=1)
        return croniter(self.cron, base).get_prev(datetime).astimezone(UTC)

    def next_slot(self, now: datetime) -> datetime:
        return croniter(self.cron, now.astimezone(self.tz)).get_next(datetime).astimezone(UTC)

    def slots_between(self, after: datetime, until: datetime) -> int:
        """How many slots fall in (after, until]."""
        it = croniter(self.cron, after.astimezone(self.tz))
        n = 0
        while n < MAX_MISSED_COUNT and it.get_next(datetime).astimezone(UTC) <= until:
            n += 1
        return n


def _check(entry: ScheduleEntry, where: str) -> ScheduleEntry:
    if not croniter.is_valid(entry.cron):
        raise ConfigError(
            _("schedule '{cron}' is not a cron expression").format(cron=entry.cron),
            detail=f"{where} schedule = {entry.cron!r}.",
            hint=_('Use five fields: minute hour day month weekday, e.g. "0 3 * * *" for 03:00 every day.'),
        )
    try:
        ZoneInfo(entry.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            _("unknown time zone '{tz}'").format(tz=entry.timezone),
            detail=f"{where} timezone = {entry.timezone!r}.",
            hint=_('Use an IANA name such as "UTC", "America/Panama" or "Europe/Madrid".'),
        ) from None
    return entry


def nightly_dumps(cfg: Config) -> list[ScheduleEntry]:
    """One scheduled dump per database whose ``schedule`` is not empty."""
    out = []
    for db in cfg.databases.values():
        if not db.schedule.strip():
            continue
        entry = ScheduleEntry(
            "dump",
            db.name,
            db.schedule.strip(),
            db.timezone,
            {
                "kind": "daily",
                "reason": _("scheduled ({cron} {tz})").format(cron=db.schedule.strip(), tz=db.timezone),
            },
        )
        out.append(_check(entry, f"{cfg.path}: [databases.{db.name}]"))
    return out


def monthly_drills(cfg: Config) -> list[ScheduleEntry]:
    """One restore drill per database with a ``drill_schedule``, when it has somewhere to restore to.

    Somewhere is its ``drill_target`` or, without one, a scratch database on the ``[verify]``
    server; a database with neither is not drilled (said once in the log at start).
    """
    out = []
    for db in cfg.databases.values():
        cron = db.drill_schedule.strip()
        if not cron or not db.dump_url_env:  # a Neon-only database has no dumps to drill with
            continue
        if not db.drill_target and not cfg.verify.url_env:
            log.warning("no restore drill for %s: set drill_target or [verify] url_env", db.name)
            continue
        if db.drill_target:
            reason = _(
                "monthly restore drill into `{target}` (standing approval: drill_target = {quoted} "
                "in [databases.{db}] of {path})"
            ).format(target=db.drill_target, quoted=repr(db.drill_target), db=db.name, path=cfg.path)
        else:
            reason = _(
                "monthly restore drill into a scratch database "
                "(no approval needed: scratch database, no configured database is touched)"
            )
        params = {"drill_target": db.drill_target, "reason": reason}
        # Queued behind what else writes to the drill target (its dumps and restores), or beside
        # the database's own dumps when it only restores into a scratch database.
        lane = db.drill_target or scratch_lane(db.name)
        entry = ScheduleEntry("drill", db.name, cron, db.timezone, params, lane=lane)
        out.append(_check(entry, f"{cfg.path}: [databases.{db.name}] drill_schedule"))
    return out


# Each returns the entries of one job kind; later kinds add a function here.
def _files_entries(cfg: Config) -> list[ScheduleEntry]:
    from jobs.files_schedule import files_entries

    return files_entries(cfg)


ENTRY_SOURCES: list[Callable[[Config], list[ScheduleEntry]]] = [nightly_dumps, monthly_drills, _files_entries]


def entries_from_config(cfg: Config) -> list[ScheduleEntry]:
    return [e for source in ENTRY_SOURCES for e in source(cfg)]


class Scheduler:
    def __init__(
        self,
        cfg: Config,
        store: Store,
        reporter: Reporter,
        *,
        clock: Clock = utc_clock,
        entries: list[ScheduleEntry] | None = None,
        deadman_every: timedelta = DEADMAN_EVERY,
        redeliver_after: float = alerts.REDELIVER_AFTER,
        keep_delivered: timedelta = alerts.KEEP_DELIVERED,
        keep_bookkeeping: timedelta = housekeeping.KEEP,
    ) -> None:
        self.cfg = cfg
        self.store = store
        self.reporter = guarded(reporter)
        self.alert_reporter = reporter  # unguarded: a failed hand-over leaves the alert for the next tick
        self.clock = clock
        self.entries = entries if entries is not None else entries_from_config(cfg)
        self.deadman_every = deadman_every
        self.redeliver_after = redeliver_after
        self.keep_delivered = keep_delivered
        self.keep_bookkeeping = keep_bookkeeping
        if cfg.alerts.deadman_reminder_hours <= 0:
            raise ConfigError(
                _("deadman_reminder_hours must be more than 0"),
                detail=f"{cfg.path}: [alerts] deadman_reminder_hours = {cfg.alerts.deadman_reminder_hours:g}.",
                hint=_("Set how many hours apart the stale-backup alert is repeated, e.g. 24."),
            )
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._last_deadman: datetime | None = None
        self._last_housekeeping: datetime | None = None
        self._storage: Storage | None = None
        self._scratch_book: Any = None  # jobs.scratch_book.StoreScratchBook, made on first use
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        schedule_runs.ensure_schema(store)
        known = set(kinds.names())
        for entry in self.entries:
            if entry.job_kind not in known:
                raise ConfigError(
                    _("schedule names unknown job kind '{kind}'").format(kind=entry.job_kind),
                    detail=_("Known kinds: {kinds}.").format(kinds=", ".join(sorted(known))),
                    hint=_("Remove the entry or upgrade backupbot."),
                )

    @property
    def storage(self) -> Storage:
        """One storage client for the scheduler's lifetime; making one costs a fifth of a second."""
        if self._storage is None:
            self._storage = open_storage(self.cfg.storage)
        return self._storage

    # ------------------------------------------------------------------ loop

    def start(self) -> Scheduler:
        self._thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)
        self._thread.start()
        log.info("scheduler started with %d entries", len(self.entries))
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout)

    def alive(self) -> bool:
        """Whether the scheduler thread is running (for /healthz)."""
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:
                log.exception("scheduler tick failed; retrying")
            self._stop.wait(self._sleep_seconds())

    def _sleep_seconds(self) -> float:
        now = self.clock()
        soonest = min((e.next_slot(now) for e in self.entries), default=now + timedelta(seconds=POLL_SECONDS))
        return max(1.0, min(POLL_SECONDS, (soonest - now).total_seconds() + 0.5))

    # ------------------------------------------------------------ one pass

    def tick(self, now: datetime | None = None) -> list[Job]:
        """Start due slots, do the follow-ups of finished scheduled jobs, check freshness, tidy the store."""
        now = now or self.clock()
        self.store.kv_set("scheduler:last_tick", time.time())  # read by /metrics
        started = [job for entry in self.entries if (job := self.run_due(entry, now)) is not None]
        self.follow_up(now)
        self.drop_kept_databases(now)
        self.drop_scratch(now)
        alerts.redeliver(self.store, self.alert_reporter, self.redeliver_after)
        if self._last_deadman is None or now - self._last_deadman >= self.deadman_every:
            self._last_deadman = now
            self.check_freshness(now)
        if self._last_housekeeping is None or now - self._last_housekeeping >= HOUSEKEEPING_EVERY:
            self._last_housekeeping = now
            self.housekeeping()
        return started

    def drop_scratch(self, now: datetime) -> list[str]:
        """Drop scratch databases past their time or left by dead runs; never stops scheduling."""
        from engine import scratch
        from jobs.scratch_book import StoreScratchBook

        try:
            if self._scratch_book is None:
                self._scratch_book = StoreScratchBook(self.store)
            return scratch.sweep(self.cfg, self._scratch_book, now)
        except Exception:
            log.exception("dropping leftover scratch databases failed; the next tick tries again")
            return []

    def housekeeping(self) -> int:
        """Keep the store from growing forever; a failure here never stops scheduling."""
        try:
            gone = alerts.prune_delivered(self.store, self.keep_delivered)
        except Exception:
            log.exception("deleting old delivered alert rows failed; the next pass tries again")
            return 0
        if gone:
            log.info("deleted %d alert row(s) delivered more than %s ago", gone, self.keep_delivered)
        try:
            tidied = housekeeping.prune_bookkeeping(
                self.store, [self._watch_key(e) for e in self.entries], keep=self.keep_bookkeeping
            )
        except Exception:
            log.exception("deleting old scheduler bookkeeping failed; the next pass tries again")
            return gone
        if any(tidied.values()):
            log.info("deleted old scheduler bookkeeping: %s", tidied)
        return gone + sum(tidied.values())

    def _watch_key(self, entry: ScheduleEntry) -> str:
        return f"schedule:{entry.key}:watching:{entry.cron}:{entry.timezone}"

    def watching_since(self, entry: ScheduleEntry, now: datetime) -> datetime:
        key = self._watch_key(entry)
        self.store.kv_claim(key, schedule_runs.iso(now))
        return schedule_runs.parse_iso(self.store.kv_get(key))

    def run_due(self, entry: ScheduleEntry, now: datetime) -> Job | None:
        """Queue the entry's latest due slot if nobody has; None when nothing is due or it was taken."""
        since = self.watching_since(entry, now)
        last = schedule_runs.last_slot(self.store, entry.key)
        if last is not None and last > since:
            since = last
        slot = entry.latest_slot(now)
        if slot <= since:
            return None
        missed = entry.slots_between(since, slot) - 1
        params = {**entry.params, "schedule": entry.key, "slot": schedule_runs.iso(slot)}
        if missed > 0:
            params["missed_slots"] = missed
        job = schedule_runs.claim(
            self.store,
            entry=entry.key,
            slot=slot,
            job_kind=entry.job_kind,
            database=entry.database,
            worker=self.worker_id,
            missed=max(missed, 0),
            create_job=lambda: self.store.create_job(
                entry.job_kind,
                entry.database,
                params,
                requested_by="scheduler",
                channel=self.cfg.slack.channel,
                lane=entry.lane,
            ),
        )
        if job is not None:
            caught_up = f" (catching up; {missed} earlier slot(s) skipped)" if missed > 0 else ""
            log.info("scheduled %s for slot %s%s", job.log_name, schedule_runs.iso(slot), caught_up)
            self.reporter.queued(job)
        return job

    def drop_kept_databases(self, now: datetime) -> int:
        """Databases a swap restore kept for undo, dropped after keep_previous_hours; told in the thread."""
        from jobs.kept_databases import drop_and_tell

        try:
            return drop_and_tell(self.cfg, self.store, self.reporter, now)
        except Exception:
            log.exception("dropping kept restore databases failed; the next pass tries again")
            return 0

    # -------------------------------------------------------------- follow-ups

    def follow_up(self, now: datetime) -> None:
        for job in schedule_runs.finished_unhandled(self.store):
            entry = str(job.params.get("schedule"))
            try:
                if job.status in schedule_runs.FAILED_STATES:
                    # claims the follow-up and records the alert in one transaction
                    alerts.job_failed(self.cfg, self.store, self.alert_reporter, job, entry)
                elif not schedule_runs.mark_handled(self.store, job.id, str(job.status)):
                    continue  # another process took it
                elif job.status == JobStatus.SUCCEEDED:
                    self._succeeded(job, entry, now)
            except Exception:
                log.exception("follow-up of %s failed", job.log_name)

    def _succeeded(self, job: Job, entry: str, now: datetime) -> None:
        alerts.job_succeeded(self.cfg, self.store, self.alert_reporter, job, entry)
        if job.kind != "dump" or not job.database:
            return
        scheduled_verify.queue_after_nightly(self.cfg, self.store, self.reporter, job)
        self.apply_retention(job, now)
        if self.cfg.database(job.database).neon_project_id:
            from jobs.neon_retention import prune_neon_branches

            prune_neon_branches(self.cfg, self.store, self.reporter, job)
        if self.cfg.alerts.heartbeat_url:
            alerts.ping_heartbeat(self.cfg.alerts.heartbeat_url)

    def apply_retention(self, job: Job, now: datetime) -> scheduled_retention.Outcome:
        """Prune after a good scheduled dump; held or failing retention alerts once per streak."""
        return scheduled_retention.apply_after_dump(
            self.cfg, self.store, self.reporter, self.alert_reporter, lambda: self.storage, job, now
        )

    # ------------------------------------------------------------- freshness

    def check_freshness(self, now: datetime) -> dict[str, str]:
        """The dead-man's switch for each database that has a scheduled dump."""
        from engine.catalog import newest_backup
        from engine.prune import backup_ref

        out: dict[str, str] = {}
        for entry in self.entries:
            if entry.job_kind != "dump" or not entry.database:
                continue
            try:
                # Newest month folder first, manifests from the cache: every 10 minutes this
                # costs a few LIST requests and no GET unless a backup was added or changed.
                found = newest_backup(
                    self.cfg, entry.database, self.storage, where=lambda m: backup_ref(m).good
                )
            except BackupbotError as err:
                log.warning("freshness check of %s could not list backups: %s", entry.database, err.message)
                continue
            newest = backup_ref(found) if found is not None else None
            fresh = alerts.Freshness(
                database=entry.database,
                newest_id=newest.id if newest else None,
                newest_at=newest.created_at if newest else None,
                reference=newest.created_at if newest else self.watching_since(entry, now),
            )
            out[entry.database] = alerts.check_deadman(self.cfg, self.store, self.alert_reporter, fresh, now)
        return out


def start_scheduler(cfg: Config, store: Store, reporter: Reporter) -> Scheduler | None:
    """The bot's scheduler thread; ``BACKUPBOT_SCHEDULER=off`` leaves scheduling to another process.

    Safe to run in several processes at once (slots and follow-ups are claimed in the
    store), so turning it off is about where the work happens, not about correctness.
    """
    if os.environ.get("BACKUPBOT_SCHEDULER", "").lower() == "off":
        log.info("scheduler off (BACKUPBOT_SCHEDULER=off)")
        return None
    return Scheduler(cfg, store, reporter).start()
