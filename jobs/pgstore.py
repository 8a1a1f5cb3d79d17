"""The job store in PostgreSQL, for deployments whose processes share no disk.

Chosen when ``BACKUPBOT_STATE_URL`` (or ``[state] url_env``) is set. The tables are the
SQLite store's, in a schema of their own (``backupbot`` unless ``[state] schema`` says
otherwise), created on start under a version number: a state database written by a
newer bot stops this one with a message instead of being misread.

Writes keep the SQLite store's guarantee that a read-then-write inside
``transaction()`` sees no other writer: each top-level transaction takes a
transaction-scoped advisory lock (the counterpart of SQLite's ``BEGIN IMMEDIATE``), so
every module's compare-and-set, claim and unique insert is exactly-once across
processes and machines without each module reasoning about isolation levels. Reads
outside a transaction take no lock, and job claims (the runners' hot path) take only
their job's row (``FOR UPDATE SKIP LOCKED``) and their lane's advisory lock. ``job_queued.set()`` also sends a ``NOTIFY`` that the
runners of other processes ``LISTEN`` for, so an idle worker starts a job queued by a
web process at once rather than at its next poll.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus
from psycopg.rows import dict_row

from core.errors import ConfigError
from core.i18n import _
from core.redact import describe_url, redact
from jobs.audit import utcnow, write_audit
from jobs.job import Job, encode_fields
from jobs.pgdb import PgDatabase
from jobs.schema import create_schema
from jobs.status import JobStatus
from jobs.store import STATE_URL_ENV, Store

log = logging.getLogger(__name__)

# 1: the tables of jobs.schema plus each module's own, created by the modules on use.
SCHEMA_VERSION = 1
DEFAULT_SCHEMA = "backupbot"
_LOCK_FREE_FIELDS = frozenset({"progress", "heartbeat_at", "message_ts", "channel"})

_JSON_EXTRACT = """
CREATE OR REPLACE FUNCTION json_extract(doc text, path text) RETURNS text
LANGUAGE sql IMMUTABLE AS $f$
  SELECT CASE WHEN doc IS NULL OR doc = '' THEN NULL
              ELSE (doc::jsonb) #>> string_to_array(substr(path, 3), '.') END
$f$
"""


class StateSchemaError(ConfigError):
    """The state database was written by a newer bot; this one must not touch it."""


class _NotifyingEvent(threading.Event):
    """``job_queued``: setting it wakes this process's runner and, through NOTIFY, everyone's."""

    def __init__(self, store: PgStore) -> None:
        super().__init__()
        self._store = store

    def set(self) -> None:
        super().set()
        self._store._notify()

    def set_local(self) -> None:
        super().set()


class PgStore(Store):
    """The same store, its rows in PostgreSQL; safe to share between threads and processes."""

    backend = "postgresql"

    def __init__(
        self, path: str | Path | None = None, *, url: str | None = None, schema: str | None = None
    ) -> None:
        import os

        self.url = url or os.environ.get(STATE_URL_ENV, "")
        if not self.url.startswith(("postgresql://", "postgres://")):
            raise ConfigError(
                _("the state URL is not a PostgreSQL URL"),
                detail=_("{env} (or [state] url_env) is set to {url}.").format(
                    env=STATE_URL_ENV, url=repr(describe_url(self.url))
                ),
                hint=_(
                    "Set it to postgresql://user:password@host:5432/dbname, or unset it to keep the state in SQLite."
                ),
            )
        self.schema = schema or DEFAULT_SCHEMA
        self.path = Path(path) if path else Path(".")
        self._local = threading.local()
        self._conns: list[tuple[threading.Thread, psycopg.Connection[Any]]] = []
        self._conns_lock = threading.Lock()
        self._catalog: dict[str, Any] = {}
        self._lock_key = int.from_bytes(
            hashlib.sha256(f"backupbot:{self.schema}".encode()).digest()[:8], "big", signed=True
        )
        self._lane_key = int.from_bytes(
            self._lock_key.to_bytes(8, "big", signed=True)[:4], "big", signed=True
        )
        self._channel = f"{self.schema}_jobs_queued"
        self._listener: threading.Thread | None = None
        self._closed = threading.Event()
        self.job_queued = _NotifyingEvent(self)
        self._create_schema()

    def describe(self) -> str:
        return f"{describe_url(self.url)} (schema {self.schema})"

    # ------------------------------------------------------------ connections

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            return psycopg.connect(
                self.url,
                autocommit=True,
                row_factory=dict_row,
                connect_timeout=10,
                options=f"-c search_path={self.schema}",
                application_name="backupbot",
            )
        except psycopg.OperationalError as exc:
            raise ConfigError(
                _("cannot reach the state database"),
                detail=redact(f"{describe_url(self.url)}: {str(exc).strip()}", [self.url]),
                hint=_("Check {env} (host, port, password) and that the server accepts connections.").format(
                    env=STATE_URL_ENV
                ),
            ) from None

    @property
    def db(self) -> PgDatabase:  # type: ignore[override]
        db = getattr(self._local, "db", None)
        if db is None or db.conn.closed:
            conn = self._connect()
            with self._conns_lock:
                # A runner starts a thread per job: close what finished threads left open, or
                # a long-lived worker would use up the server's max_connections.
                keep = []
                for thread, old in self._conns:
                    if thread.is_alive():
                        keep.append((thread, old))
                    else:
                        old.close()
                self._conns = [*keep, (threading.current_thread(), conn)]
            db = PgDatabase(conn, self.schema, self._catalog)
            self._local.db = db
        return db

    def close(self) -> None:
        self._closed.set()
        with self._conns_lock:
            for _thread, conn in self._conns:
                try:
                    conn.close()
                except psycopg.Error:
                    pass
            self._conns.clear()
        self._local = threading.local()

    @contextmanager
    def transaction(self, serialized: bool = True) -> Iterator[PgDatabase]:  # type: ignore[override]
        """A write transaction serialized with every other one on this schema; nested = savepoint.

        ``serialized=False`` (rows appended, nothing read and then written) skips the lock,
        so concurrent acks commit side by side instead of one fsync after another.
        """
        db = self.db
        if db.conn.info.transaction_status != TransactionStatus.IDLE:
            with db.conn.transaction():
                yield db
            return
        with db.conn.transaction():
            if serialized:
                db.conn.execute("SELECT pg_advisory_xact_lock(%s)", [self._lock_key])
            yield db

    def update_job(self, job_id: int, **fields: Any) -> None:
        """Progress, heartbeat and message ts are one statement each: atomic without the write lock.

        A running job writes its progress every few seconds; taking the schema-wide lock
        for that would put every Slack ack behind it. Anything else (params) still goes
        through the serialized transaction, since other writers read-modify-write it.
        """
        if fields and set(fields) <= _LOCK_FREE_FIELDS:
            values = encode_fields(fields)
            values["updated_at"] = utcnow()
            sets = ", ".join(f'"{k}" = ?' for k in values)
            self.db.execute(f"UPDATE jobs SET {sets} WHERE id = ?", [*values.values(), job_id])
            return
        super().update_job(job_id, **fields)

    def claim_job(self, job: Job, worker: str, **fields: Any) -> bool:
        """The claim without the schema-wide lock: acks and other lanes' claims never wait on it.

        The job's row is locked ``FOR UPDATE SKIP LOCKED`` (a row another runner is taking
        is skipped, not waited for), and claims of one lane are serialized by an advisory
        lock on the lane, so "nothing of this lane is running" stays true until commit.
        """
        db = self.db
        if db.conn.info.transaction_status != TransactionStatus.IDLE:
            return super().claim_job(job, worker, **fields)
        now = utcnow()
        values = encode_fields({"worker": worker, **fields})
        values.update(updated_at=now, started_at=now)
        sets = ", ".join(f'"{k}" = ?' for k in values)
        with db.conn.transaction():
            db.conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [self._lane_key, job.lane])
            row = db.conn.execute(
                "SELECT status FROM jobs WHERE id = %s FOR UPDATE SKIP LOCKED", [job.id]
            ).fetchone()
            if row is None or row["status"] != str(JobStatus.QUEUED):
                return False
            busy = db.conn.execute(
                "SELECT 1 FROM jobs WHERE lane = %s AND status = 'running' LIMIT 1", [job.lane]
            ).fetchone()
            if busy:
                return False
            db.execute(f"UPDATE jobs SET status = 'running', {sets} WHERE id = ?", [*values.values(), job.id])
            write_audit(db, job.id, "running", worker, "queued", "running", {})  # type: ignore[arg-type]
        return True

    def _create_schema(self) -> None:
        with self.transaction() as db:
            db.conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
            db.conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY, applied_at text NOT NULL)"
            )
            row = db.conn.execute("SELECT max(version) AS v FROM schema_version").fetchone()
            have = int(row["v"] or 0) if row else 0
            if have > SCHEMA_VERSION:
                raise StateSchemaError(
                    _("the state database has schema version {have}; this bot knows up to {known}").format(
                        have=have, known=SCHEMA_VERSION
                    ),
                    detail=_("{state} was written by a newer backupbot; reading it could lose state.").format(
                        state=self.describe()
                    ),
                    hint=_("Deploy the newer backupbot (or point BACKUPBOT_STATE_URL at another schema)."),
                )
            db.conn.execute(_JSON_EXTRACT)
            create_schema(db)  # type: ignore[arg-type]
            if have < SCHEMA_VERSION:
                db.conn.execute(
                    "INSERT INTO schema_version (version, applied_at) VALUES (%s, now()::text)",
                    [SCHEMA_VERSION],
                )

    # ------------------------------------------------------------ wake-ups

    def _notify(self) -> None:
        try:
            self.db.conn.execute(f'NOTIFY "{self._channel}"')
        except psycopg.Error as exc:  # the local wake-up already happened; others poll
            log.warning("NOTIFY on the state database failed: %s", redact(str(exc), [self.url]))

    def watch_queue(self) -> None:
        if self._listener is not None:
            return
        self._listener = threading.Thread(target=self._listen, name="state-listen", daemon=True)
        self._listener.start()

    def _listen(self) -> None:
        while not self._closed.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True, connect_timeout=10) as conn:
                    conn.execute(f'LISTEN "{self._channel}"')
                    while not self._closed.is_set():
                        for _notice in conn.notifies(timeout=1.0):
                            self.job_queued.set_local()
            except psycopg.Error as exc:
                log.warning("LISTEN on the state database failed, retrying: %s", redact(str(exc), [self.url]))
                self._closed.wait(2.0)
