"""Runs queued jobs: one at a time per database, several databases in parallel.

One dispatcher thread claims queued jobs from the store and starts a worker thread for
each. A job is claimed with a compare-and-set inside a write transaction that also
checks its lane (normally its database) has nothing running, so two runners (the bot
and a ``python -m jobs``, or two bot processes) never run two jobs of one database at
once, and the oldest queued job of a lane always goes first.

Jobs whose process died (SIGKILL, OOM, a redeploy) are found by ``recover``: on start,
and every few seconds, running jobs whose worker is gone (same host and pid dead, or no
heartbeat for ``stale_after`` seconds) become ``interrupted``, their kind cleans up
(a dump aborts its multipart upload) and people are told in the job's channel.
"""

from __future__ import annotations

import copy
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from core.errors import BackupbotError
from core.i18n import _
from core.logs import event, job_context
from core.redact import redact
from jobs import kinds
from jobs.context import JobCancelled, JobContext
from jobs.events import Reporter, guarded
from jobs.status import JobStatus
from jobs.store import Job, Store

log = logging.getLogger(__name__)

SHUTDOWN = "shutdown"  # why a job was interrupted: this process was stopping while it ran
DIED = "died"  # ... or the process running it is gone
HEARTBEAT_EVERY = 5.0
STALE_AFTER = 60.0
RECOVER_EVERY = 10.0


def pid_alive(pid: int) -> bool:
    """Whether a process of this host still exists (ours or not), to tell crashed owners apart."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Runner:
    def __init__(
        self,
        cfg: Any,
        store: Store,
        reporter: Reporter,
        *,
        max_parallel: int | None = None,
        poll_interval: float = 0.5,
        stale_after: float = STALE_AFTER,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.cfg = cfg
        self.store = store
        self.reporter = guarded(reporter)
        self.max_parallel = max(1, max_parallel or cfg.runner.max_parallel)
        self.poll_interval = poll_interval
        self.stale_after = stale_after
        self.clock = clock  # passed to every job; None = the wall clock
        self.host = socket.gethostname()
        self.worker_id = f"{self.host}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._running: dict[int, tuple[threading.Thread, threading.Event]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._shutting_down = False
        self._thread: threading.Thread | None = None
        self._last_heartbeat = 0.0
        self._last_recover = 0.0

    # ---------------------------------------------------------------- control

    def start(self) -> Runner:
        """Recover what a dead process left running, then start taking jobs."""
        self.store.watch_queue()
        self.recover()
        self._last_recover = time.monotonic()
        self._thread = threading.Thread(target=self._loop, name="runner", daemon=True)
        self._thread.start()
        log.info("runner %s started (max_parallel=%d)", self.worker_id, self.max_parallel)
        return self

    def wake(self) -> None:
        self.store.job_queued.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop taking jobs; wait for running ones, then interrupt what is still running."""
        self._stop.set()
        self.wake()
        if self._thread:
            self._thread.join(timeout=5)
        deadline = time.monotonic() + timeout
        for thread, _cancel in self._snapshot().values():
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        leftover = self._snapshot()
        if leftover:
            self._shutting_down = True
            for _thread, cancel in leftover.values():
                cancel.set()
            for thread, _cancel in leftover.values():
                thread.join(timeout=10)

    def cancel(self, job_id: int) -> bool:
        """Signal a job running in this process; others notice the store flag at their next tick."""
        entry = self._snapshot().get(job_id)
        if entry:
            entry[1].set()
        return entry is not None

    def alive(self) -> bool:
        """Whether the dispatcher thread is taking jobs (for /healthz)."""
        return self._thread is not None and self._thread.is_alive()

    def running_ids(self) -> list[int]:
        return sorted(self._snapshot())

    def idle(self) -> bool:
        return not self._snapshot()

    def _snapshot(self) -> dict[int, tuple[threading.Thread, threading.Event]]:
        with self._lock:
            return dict(self._running)

    # --------------------------------------------------------------- the loop

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._tick()
            except Exception:
                log.exception("runner tick failed; retrying")
            self.store.job_queued.wait(self.poll_interval)
            self.store.job_queued.clear()

    def _tick(self) -> None:
        now = time.monotonic()
        self._sync_cancels()
        if now - self._last_heartbeat >= HEARTBEAT_EVERY:
            self._last_heartbeat = now
            self._heartbeat()
        if now - self._last_recover >= RECOVER_EVERY:
            self._last_recover = now
            self.recover()
        self._start_ready()

    def _sync_cancels(self) -> None:
        running = self._snapshot()
        if not running:
            return
        ids = list(running)
        rows = self.store.db.query(
            f"SELECT id FROM jobs WHERE cancel_requested = 1 AND id IN ({','.join('?' * len(ids))})", ids
        )
        for row in rows:
            running[row["id"]][1].set()

    def _heartbeat(self) -> None:
        ids = list(self._snapshot())
        if ids:
            with self.store.transaction() as db:
                db.execute(
                    f"UPDATE jobs SET heartbeat_at = ? WHERE worker = ? AND id IN ({','.join('?' * len(ids))})",
                    [time.time(), self.worker_id, *ids],
                )

    def _start_ready(self) -> None:
        if len(self._snapshot()) >= self.max_parallel:
            return
        queued = [
            Job.from_row(r)
            for r in self.store.db.query("SELECT * FROM jobs WHERE status = 'queued' ORDER BY id LIMIT 200")
        ]
        seen: set[str] = set()
        for job in queued:
            if job.lane in seen:
                continue  # an older job of the same lane goes first
            seen.add(job.lane)
            if len(self._snapshot()) >= self.max_parallel:
                return
            if self._claim(job):
                self._launch(self.store.get_job(job.id))

    def _claim(self, job: Job) -> bool:
        return self.store.claim_job(job, self.worker_id, heartbeat_at=time.time(), attempts=job.attempts + 1)

    def _launch(self, job: Job) -> None:
        cancel = threading.Event()
        thread = threading.Thread(target=self._run, args=(job, cancel), name=f"job-{job.id}", daemon=True)
        with self._lock:
            self._running[job.id] = (thread, cancel)
        thread.start()

    # ---------------------------------------------------------------- one job

    def _run(self, job: Job, cancel: threading.Event) -> None:
        try:
            with job_context(job.id, job.database):
                self._execute(job, cancel)
        except Exception:
            log.exception("runner bookkeeping for %s failed", job.log_name)
        finally:
            with self._lock:
                self._running.pop(job.id, None)
            self.wake()

    def _execute(self, job: Job, cancel: threading.Event) -> None:
        ctx = JobContext(
            cfg=self.cfg, store=self.store, job=job, reporter=self.reporter, cancel=cancel, clock=self.clock
        )
        self.reporter.started(job)
        log.info("%s started", job.log_name, extra=event("job_started", kind=job.kind))
        try:
            kind = kinds.get_kind(job.kind)
            outcome = kind.run(ctx)
        except BaseException as exc:  # noqa: BLE001 - every ending is recorded, then KeyboardInterrupt re-raised
            self._ended_badly(job, cancel, exc)
            if not isinstance(exc, Exception):
                raise
            return
        if self.store.transition(
            job.id, JobStatus.RUNNING, JobStatus.SUCCEEDED, actor=self.worker_id, result=outcome.as_result()
        ):
            log.info(
                "%s succeeded: %s", job.log_name, outcome.summary, extra=event("job_succeeded", kind=job.kind)
            )
            self.reporter.finished(self.store.get_job(job.id), outcome)
        else:
            log.warning(
                "%s finished but was no longer running (now %s)",
                job.log_name,
                self.store.get_job(job.id).status,
            )

    def _ended_badly(self, job: Job, cancel: threading.Event, exc: BaseException) -> None:
        if self._shutting_down:
            self._interrupt(job, SHUTDOWN)
            return
        if isinstance(exc, BackupbotError):
            error = exc
        else:
            log.error("%s crashed", job.log_name, exc_info=exc)
            error = BackupbotError(
                _("{job} failed unexpectedly").format(job=job.title),
                detail=redact(f"{type(exc).__name__}: {exc}"),
                hint=_(
                    "This is a bug; the bot's log has the traceback. Retry the job; report it if it repeats."
                ),
            )
        status = JobStatus.FAILED
        if cancel.is_set() or isinstance(exc, JobCancelled):
            status = JobStatus.CANCELLED
            if not isinstance(exc, JobCancelled):
                error = JobCancelled(
                    _("{job} was cancelled").format(job=job.title),
                    detail=_("Stopped while running on database '{db}'.").format(db=job.database)
                    if job.database
                    else None,
                    hint=_("Nothing was recorded for it; queue it again when ready."),
                )
        safe = _redacted(error)
        log.warning(
            "%s %s: %s", job.log_name, status, safe.message, extra=event(f"job_{status}", kind=job.kind)
        )
        if self.store.transition(
            job.id, JobStatus.RUNNING, status, actor=self.worker_id, error=safe.as_dict()
        ):
            self.reporter.failed(self.store.get_job(job.id), safe)

    # --------------------------------------------------------------- recovery

    def _worker_dead(self, job: Job) -> bool:
        host, _sep, rest = job.worker.partition(":")
        pid_text, _sep, _token = rest.partition(":")
        stale = job.heartbeat_at is None or time.time() - job.heartbeat_at > self.stale_after
        if host != self.host or not pid_text.isdigit():
            return stale
        pid = int(pid_text)
        if pid == os.getpid():
            return True  # an earlier life of this very pid (containers restart as pid 1)
        return stale or not pid_alive(pid)

    def recover(self) -> list[Job]:
        """Mark running jobs whose process is gone as interrupted, clean up and tell people."""
        found = []
        for job in self.store.list_jobs(statuses=[JobStatus.RUNNING], limit=1000):
            if job.worker == self.worker_id or not self._worker_dead(job):
                continue
            if self._interrupt(job, DIED):
                found.append(job)
        return found

    def _interrupt(self, job: Job, why: str) -> bool:
        """``why`` is ``SHUTDOWN`` or ``DIED``: each is a whole sentence, so a translation can order it."""
        cleanup = ""
        try:
            kind = kinds.get_kind(job.kind)
            if kind.on_interrupted is not None:
                ctx = JobContext(cfg=self.cfg, store=self.store, job=job, reporter=self.reporter)
                cleanup = kind.on_interrupted(ctx) or ""
        except Exception as exc:  # cleanup is best effort; the interruption is still recorded
            log.warning("cleanup after interrupted %s failed: %s", job.log_name, redact(str(exc)))
            cleanup = _("Cleaning up what it left behind failed; see the bot's log.")
        if job.database:
            what = (
                _("It was running on database '{db}' when the bot was shutting down.")
                if why == SHUTDOWN
                else _(
                    "It was running on database '{db}' when the process running it stopped "
                    "(crash, kill or redeploy)."
                )
            ).format(db=job.database)
            hint = _("Nothing was recorded for it. Run it again, e.g. `/backup {kind} {db}`.").format(
                kind=job.kind, db=job.database
            )
        else:
            what = (
                _("It was running when the bot was shutting down.")
                if why == SHUTDOWN
                else _("It was running when the process running it stopped (crash, kill or redeploy).")
            )
            hint = _("Nothing was recorded for it. Run it again.")
        error = BackupbotError(
            _("{job} was interrupted").format(job=job.title),
            detail=f"{what} {cleanup}".strip(),
            hint=hint,
        )
        if self.store.transition(
            job.id, JobStatus.RUNNING, JobStatus.INTERRUPTED, actor=self.worker_id, error=error.as_dict()
        ):
            self.reporter.failed(self.store.get_job(job.id), error)
            return True
        return False


def _redacted(err: BackupbotError) -> BackupbotError:
    """The same error with any secret that slipped into its text masked."""
    clean = copy.copy(err)
    clean.message = redact(err.message)
    clean.detail = redact(err.detail) if err.detail else None
    clean.hint = redact(err.hint) if err.hint else None
    clean.args = (clean.message,)
    return clean
