"""The bot's memory: jobs, their audit trail, approvals, locks and small state, in SQLite.

One file in the state directory, opened in WAL mode so the Slack handlers (reads and
inserts that must answer in milliseconds) never wait behind a runner thread writing
progress, and so a separate ``python -m jobs`` process can share it. Each thread gets
its own connection; writes that must be atomic go through :meth:`Store.transaction`
(``BEGIN IMMEDIATE``) or :meth:`Store.transition`, the compare-and-set every state
change uses, so a double click, two runners or a cancel racing a start resolve to
exactly one winner. Every state change is also an audit row.

Other modules (restores, the scheduler) keep their own tables in the same file:
they call ``store.db[...]`` (a ``sqlite_utils.Database``) and wrap multi-step writes
in ``store.transaction()``.

When ``BACKUPBOT_STATE_URL`` (or the variable ``[state] url_env`` names) holds a
PostgreSQL URL, ``Store(...)`` is a ``jobs.pgstore.PgStore`` instead: the same methods,
the same ``db`` / ``transaction()`` surface (``jobs.pgdb`` translates the portable SQL),
so nothing above ``jobs/`` knows which one it has. Modules keep to the portable dialect:
``?`` placeholders, ``INSERT OR IGNORE`` / ``ON CONFLICT``, ``json_extract(col, '$.key')``,
tables declared with ``db[name].create({...}, if_not_exists=True)``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlite_utils

from core.errors import NotFoundError
from core.i18n import _
from jobs.audit import read_audit, utcnow, write_audit
from jobs.job import Job, encode_fields
from jobs.locks import LocksAndState
from jobs.schema import create_schema
from jobs.status import ACTIVE, JobStatus

__all__ = ["DB_FILE", "STATE_URL_ENV", "Job", "Store", "open_existing_store", "state_url", "utcnow"]

DB_FILE = "backupbot.sqlite3"
STATE_URL_ENV = "BACKUPBOT_STATE_URL"


def state_url(cfg: Any = None) -> str | None:
    """The PostgreSQL URL the state lives in, or None for the SQLite file."""
    env = getattr(getattr(cfg, "state", None), "url_env", None) or STATE_URL_ENV
    return os.environ.get(env) or os.environ.get(STATE_URL_ENV) or None


def open_existing_store(cfg: Any) -> Store | None:
    """The bot's store if this deployment has one (for the CLI), without creating a SQLite file."""
    if state_url(cfg) is None and not (Path(cfg.state_dir) / DB_FILE).exists():
        return None
    return Store.for_config(cfg)


MAX_JOB_ID = 2**63 - 1  # SQLite's INTEGER


class Store(LocksAndState):
    """A handle on the SQLite file; safe to share between threads."""

    backend = "sqlite"

    def __new__(
        cls, path: str | Path | None = None, *, url: str | None = None, schema: str | None = None
    ) -> Store:
        # url="" forces the file even when BACKUPBOT_STATE_URL is set (state export/import).
        if cls is Store and (url if url is not None else os.environ.get(STATE_URL_ENV)):
            from jobs.pgstore import PgStore

            return super().__new__(PgStore)
        return super().__new__(cls)

    def __init__(self, path: str | Path, *, url: str | None = None, schema: str | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        # Set whenever a job is queued, so an in-process runner starts it at once
        # instead of at its next poll.
        self.job_queued = threading.Event()
        self._create_schema()

    @classmethod
    def for_config(cls, cfg: Any) -> Store:
        state = getattr(cfg, "state", None)
        return Store(Path(cfg.state_dir) / DB_FILE, url=state_url(cfg), schema=getattr(state, "schema", None))

    def describe(self) -> str:
        """Where the state is, for messages (no secrets)."""
        return str(self.path)

    def watch_queue(self) -> None:
        """Have ``job_queued`` set when another process queues a job (PostgreSQL: LISTEN)."""

    # ------------------------------------------------------------ connections

    @property
    def db(self) -> sqlite_utils.Database:
        """This thread's ``sqlite_utils.Database`` on the shared file."""
        db = getattr(self._local, "db", None)
        if db is None:
            conn = sqlite3.connect(str(self.path), timeout=30, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            with self._conns_lock:
                self._conns.append(conn)
            db = sqlite_utils.Database(conn)
            self._local.db = db
        return db

    def close(self) -> None:
        with self._conns_lock:
            for conn in self._conns:
                try:
                    conn.close()
                except sqlite3.Error:
                    pass
            self._conns.clear()
        self._local = threading.local()

    @contextmanager
    def transaction(self, serialized: bool = True) -> Iterator[sqlite_utils.Database]:
        """An immediate (write-locked) transaction; nested sqlite-utils calls become savepoints.

        ``serialized=False`` tells a backend that can run writers side by side (PostgreSQL)
        that this transaction only appends rows and reads nothing it then writes; SQLite
        always serializes.
        """
        db = self.db
        if db.conn.in_transaction:
            with db.atomic():
                yield db
            return
        db.conn.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.rollback()
            raise
        else:
            db.conn.execute("COMMIT")

    def _create_schema(self) -> None:
        with self.transaction() as db:
            create_schema(db)

    # ------------------------------------------------------------------- jobs

    def create_job(
        self,
        kind: str,
        database: str | None,
        params: dict[str, Any] | None = None,
        *,
        requested_by: str = "",
        channel: str = "",
        status: JobStatus = JobStatus.QUEUED,
        lane: str | None = None,
        message_ts: str = "",
        wake: bool = True,
    ) -> Job:
        """Record a new job; ``lane`` (default: the database) is what runs one at a time.

        ``wake=False`` leaves waking an in-process runner to the caller (``enqueue``
        tells the reporter first, so "queued" is never reported after "started").
        """
        now = utcnow()
        row = {
            "kind": kind,
            "database": database,
            "lane": lane or database or f"{kind}:*",
            "status": str(status),
            "params": json.dumps(params or {}, sort_keys=True, default=str),
            "requested_by": requested_by,
            "channel": channel,
            "message_ts": message_ts,
            "created_at": now,
            "updated_at": now,
            "attempts": 0,
            "cancel_requested": 0,
        }
        with self.transaction(serialized=False) as db:  # appends only: no read-then-write
            job_id = db["jobs"].insert(row).last_pk
            write_audit(db, job_id, "created", requested_by or "system", None, str(status), params or {})
        if status == JobStatus.QUEUED and wake:
            self.job_queued.set()
        return self.get_job(int(job_id))

    def find_job(self, job_id: int) -> Job | None:
        if not 0 < job_id <= MAX_JOB_ID:
            return None  # SQLite cannot even compare a number past int64: there is no such job
        rows = list(self.db.query("SELECT * FROM jobs WHERE id = ?", [job_id]))
        return Job.from_row(rows[0]) if rows else None

    def get_job(self, job_id: int) -> Job:
        job = self.find_job(job_id)
        if job is None:
            raise NotFoundError(
                _("there is no job {id}").format(id=job_id),
                hint=_("`/backup status` lists recent jobs with their numbers."),
            )
        return job

    def list_jobs(
        self,
        statuses: Iterable[JobStatus] | None = None,
        database: str | None = None,
        kind: str | None = None,
        limit: int = 20,
    ) -> list[Job]:
        """Newest first."""
        where, args = [], []
        if statuses is not None:
            wanted = [str(s) for s in statuses]
            where.append(f"status IN ({','.join('?' * len(wanted))})")
            args += wanted
        if database is not None:
            where.append("database = ?")
            args.append(database)
        if kind is not None:
            where.append("kind = ?")
            args.append(kind)
        sql = "SELECT * FROM jobs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC LIMIT ?"
        return [Job.from_row(r) for r in self.db.query(sql, [*args, limit])]

    def transition(
        self,
        job_id: int,
        from_statuses: Iterable[JobStatus] | JobStatus,
        to_status: JobStatus,
        *,
        actor: str = "runner",
        event: str | None = None,
        detail: dict[str, Any] | None = None,
        **fields: Any,
    ) -> bool:
        """Move a job to ``to_status`` only if it is in one of ``from_statuses``.

        Returns False when the job was not in those states (someone else won the
        race, or it already finished); nothing is written then. On success the
        extra ``fields`` are set in the same statement and an audit row is added in
        the same transaction.
        """
        froms = [from_statuses] if isinstance(from_statuses, JobStatus) else list(from_statuses)
        now = utcnow()
        values = encode_fields(fields)
        values["updated_at"] = now
        if to_status == JobStatus.RUNNING and "started_at" not in values:
            values["started_at"] = now
        if JobStatus(to_status).terminal and "finished_at" not in values:
            values["finished_at"] = now
        sets = ", ".join(f'"{k}" = ?' for k in values)
        with self.transaction() as db:
            prev = list(db.query("SELECT status FROM jobs WHERE id = ?", [job_id]))
            if not prev or prev[0]["status"] not in [str(s) for s in froms]:
                return False
            cur = db.execute(
                f"UPDATE jobs SET status = ?, {sets} WHERE id = ? AND status = ?",
                [str(to_status), *values.values(), job_id, prev[0]["status"]],
            )
            if cur.rowcount != 1:
                return False
            write_audit(
                db, job_id, event or str(to_status), actor, prev[0]["status"], str(to_status), detail or {}
            )
        if to_status == JobStatus.QUEUED:
            self.job_queued.set()
        return True

    def claim_job(self, job: Job, worker: str, **fields: Any) -> bool:
        """Start ``job`` for ``worker`` if it is still queued and nothing of its lane is running.

        True for exactly one caller across threads and processes; ``fields`` (heartbeat,
        attempts) are set with the status, and the audit row says which worker took it.
        """
        with self.transaction() as db:
            busy = list(
                db.query("SELECT id FROM jobs WHERE lane = ? AND status = 'running' LIMIT 1", [job.lane])
            )
            if busy:
                return False
            return self.transition(
                job.id, JobStatus.QUEUED, JobStatus.RUNNING, actor=worker, worker=worker, **fields
            )

    def update_job(self, job_id: int, **fields: Any) -> None:
        """Set fields other than the status (message ts, progress, heartbeat)."""
        if not fields:
            return
        values = encode_fields(fields)
        values["updated_at"] = utcnow()
        sets = ", ".join(f'"{k}" = ?' for k in values)
        with self.transaction() as db:
            db.execute(f"UPDATE jobs SET {sets} WHERE id = ?", [*values.values(), job_id])

    def request_cancel(self, job_id: int, actor: str) -> Job:
        """Cancel a waiting job outright, or flag a running one for its runner to stop.

        Returns the job as it is afterwards; a job that already finished is returned
        unchanged, so the caller can say so.
        """
        job = self.get_job(job_id)
        if job.status in (JobStatus.QUEUED, JobStatus.AWAITING_APPROVAL):
            if self.transition(
                job_id,
                (JobStatus.QUEUED, JobStatus.AWAITING_APPROVAL),
                JobStatus.CANCELLED,
                actor=actor,
                cancel_requested=True,
                error={"message": _("cancelled by {actor} before it started").format(actor=actor)},
            ):
                return self.get_job(job_id)
            job = self.get_job(job_id)
        if job.status == JobStatus.RUNNING:
            with self.transaction() as db:
                cur = db.execute(
                    "UPDATE jobs SET cancel_requested = 1, updated_at = ? WHERE id = ? AND status = ?",
                    [utcnow(), job_id, str(JobStatus.RUNNING)],
                )
                if cur.rowcount == 1:
                    write_audit(db, job_id, "cancel_requested", actor, "running", "running", {})
            return self.get_job(job_id)
        return job

    def active_lanes(self) -> set[str]:
        return {r["lane"] for r in self.db.query("SELECT DISTINCT lane FROM jobs WHERE status = 'running'")}

    def count_active(self) -> int:
        wanted = [str(s) for s in ACTIVE]
        rows = self.db.query(
            f"SELECT count(*) AS n FROM jobs WHERE status IN ({','.join('?' * len(wanted))})", wanted
        )
        return int(next(iter(rows))["n"])

    # ------------------------------------------------------------------ audit

    def audit(self, job_id: int | None, event: str, actor: str, detail: dict[str, Any] | None = None) -> None:
        """An audit row for something that is not a status change (a click, a lock, a refusal)."""
        with self.transaction(serialized=False) as db:
            write_audit(db, job_id, event, actor, None, None, detail or {})

    def audit_rows(self, job_id: int | None = None) -> list[dict[str, Any]]:
        return read_audit(self.db, job_id)
