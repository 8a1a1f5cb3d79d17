"""What a database holds, counted in the very snapshot ``pg_dump`` dumps, and what an archive lists.

Why a shared snapshot: a row count taken a second before or after the dump can differ from
the dump by whatever was written in between, and a verification that compares "roughly"
proves little. So a ``REPEATABLE READ`` transaction exports its snapshot
(``pg_export_snapshot()``), ``pg_dump --snapshot`` imports it, and the rows are counted in
that transaction: the counts and the dump see exactly the same rows. An exported snapshot
can only be imported while the exporting transaction is open; ``SourceSnapshot`` keeps it
open until the dump is stored (pg_dump holds the same snapshot for as long anyway, so this
keeps no more row versions alive than the dump itself does), and counts in a thread of its
own while pg_dump runs, so counting adds to the dump's wall time only where it takes longer.

What is counted follows pg_dump's own rules where they matter: tables and sequences that
belong to an extension are not dumped, a partitioned table has no rows of its own (its
partitions do), a partition's copy of its parent's constraint is not a separate entry.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from core.redact import redact

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 10
_USER_SCHEMA = (
    "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' "
    "AND n.nspname NOT LIKE 'pg_temp%'"
)
_NOT_EXTENSION = (
    "NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '{cat}'::regclass AND d.objid = {obj} "
    "AND d.deptype = 'e')"
)
TABLES_SQL = (
    "SELECT n.nspname, c.relname, c.relkind, c.reltuples FROM pg_class c "
    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') AND "
    + _USER_SCHEMA
    + " AND "
    + _NOT_EXTENSION.format(cat="pg_class", obj="c.oid")
    + " ORDER BY 1, 2"
)
# Counts of each object kind, in the terms of ``pg_restore --list`` (see ARCHIVE_KINDS).
OBJECTS_SQL = {
    "sequence": "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind = 'S' AND "
    + _USER_SCHEMA
    + " AND "
    + _NOT_EXTENSION.format(cat="pg_class", obj="c.oid"),
    "function": "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
    "WHERE p.prokind IN ('f', 'p') AND "
    + _USER_SCHEMA
    + " AND "
    + _NOT_EXTENSION.format(cat="pg_proc", obj="p.oid"),
    "constraint": "SELECT count(*) FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid "
    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE k.contype IN ('p', 'u', 'x') "
    "AND " + _USER_SCHEMA + " AND " + _NOT_EXTENSION.format(cat="pg_class", obj="c.oid"),
    "fk_constraint": "SELECT count(*) FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid "
    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE k.contype = 'f' AND k.conparentid = 0 "
    "AND " + _USER_SCHEMA + " AND " + _NOT_EXTENSION.format(cat="pg_class", obj="c.oid"),
    "index": "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid "
    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p', 'm') AND "
    "NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.contype IN ('p', 'u', 'x')) "
    "AND " + _USER_SCHEMA + " AND " + _NOT_EXTENSION.format(cat="pg_class", obj="c.oid"),
}
# Which ``pg_restore --list`` descriptions count as each kind above.
ARCHIVE_KINDS: dict[str, tuple[str, ...]] = {
    "table": ("TABLE",),
    "index": ("INDEX",),
    "constraint": ("CONSTRAINT",),
    "fk_constraint": ("FK CONSTRAINT",),
    "sequence": ("SEQUENCE",),
    "function": ("FUNCTION", "PROCEDURE"),
}
# Longest first, so "TABLE DATA" is never read as "TABLE" nor "INDEX ATTACH" as "INDEX".
_DESCS = sorted(
    (
        "TABLE DATA",
        "TABLE ATTACH",
        "TABLE",
        "INDEX ATTACH",
        "INDEX",
        "SEQUENCE SET",
        "SEQUENCE OWNED BY",
        "SEQUENCE",
        "FK CONSTRAINT",
        "CHECK CONSTRAINT",
        "CONSTRAINT",
        "MATERIALIZED VIEW DATA",
        "MATERIALIZED VIEW",
        "VIEW",
        "FUNCTION",
        "PROCEDURE",
        "AGGREGATE",
        "FOREIGN TABLE",
        "DEFAULT ACL",
        "DEFAULT",
        "EVENT TRIGGER",
        "TRIGGER",
        "SCHEMA",
        "EXTENSION",
        "TYPE",
        "DOMAIN",
        "COMMENT",
        "ACL",
        "POLICY",
        "ROW SECURITY",
        "RULE",
        "LARGE OBJECT",
        "BLOB",
        "BLOBS",
        "ENCODING",
        "STDSTRINGS",
        "SEARCHPATH",
        "DATABASE",
        "DATABASE PROPERTIES",
    ),  # fmt: skip
    key=len,
    reverse=True,
)


def table_name(schema: str, name: str) -> str:
    """``schema.name`` as pg_restore --list shows it (unquoted); the key of a manifest's table list."""
    return f"{schema}.{name}"


@dataclass
class Contents:
    """What the manifest records: tables with row counts (None: not counted) and object counts."""

    row_counts: str  # "exact" or "estimate"
    tables: dict[str, int | None] = field(default_factory=dict)
    partitioned: list[str] = field(default_factory=list)
    objects: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0  # how long counting took, for the README's cost figure and the log
    error: str = ""  # counting failed; the backup is still good, verification checks less

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "row_counts": self.row_counts,
            "snapshot": "shared with pg_dump" if self.row_counts == "exact" else "estimate, not shared",
            "tables": self.tables,
            "partitioned": self.partitioned,
            "objects": self.objects,
            "count_seconds": round(self.seconds, 3),
        }
        if self.error:
            out["error"] = self.error
        return out


def _count(conn: psycopg.Connection[Any], mode: str) -> Contents:
    started = time.monotonic()
    out = Contents(row_counts=mode)
    rows = conn.execute(TABLES_SQL).fetchall()
    out.objects["table"] = len(rows)
    for kind, query in OBJECTS_SQL.items():
        row = conn.execute(query).fetchone()
        out.objects[kind] = int(row[0]) if row else 0
    for schema, name, relkind, reltuples in rows:
        key = table_name(schema, name)
        if relkind == "p":
            out.partitioned.append(key)
            out.tables[key] = None
        elif mode == "estimate":
            out.tables[key] = int(reltuples) if reltuples is not None and reltuples >= 0 else None
        else:
            query = sql.SQL("SELECT count(*) FROM ONLY {}").format(sql.Identifier(schema, name))
            row = conn.execute(query).fetchone()
            out.tables[key] = int(row[0]) if row else 0
    out.seconds = time.monotonic() - started
    return out


class SourceSnapshot:
    """A read-only REPEATABLE READ transaction whose snapshot pg_dump imports; counts in a thread."""

    def __init__(self, url: str, mode: str) -> None:
        self._url = url
        self.mode = mode
        self.conn = psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT)
        self.conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        self.conn.read_only = True
        # An idle exporting transaction must not be cut off while pg_dump still needs its snapshot.
        self.conn.execute("SET idle_in_transaction_session_timeout = 0")
        self.conn.commit()
        row = self.conn.execute("SELECT pg_export_snapshot()").fetchone()
        self.snapshot_id: str = str(row[0]) if row else ""
        self._result: Contents | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False

    def start_counting(self) -> None:
        self._thread = threading.Thread(target=self._run, name="dump-counts", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._result = _count(self.conn, self.mode)
        except Exception as exc:  # noqa: BLE001 - a failed count never fails the backup itself
            with self._lock:
                closed = self._closed
            if not closed:
                log.warning("counting rows for the manifest failed: %s", redact(str(exc), [self._url]))
            self._result = Contents(row_counts=self.mode, error=redact(str(exc).strip(), [self._url])[:500])

    def result(self) -> Contents:
        """The counts; waits for the counting thread. Call only once pg_dump has finished."""
        if self._thread is not None:
            self._thread.join()
        return self._result or Contents(row_counts=self.mode, error="rows were not counted")

    def close(self) -> None:
        """End the transaction (and so the exported snapshot); safe to call twice, from any thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if self._thread is not None and self._thread.is_alive():
            try:
                self.conn.cancel_safe(timeout=5)
            except Exception:  # noqa: BLE001 - closing anyway
                pass
            self._thread.join(timeout=10)
        try:
            self.conn.close()
        except Exception:  # noqa: BLE001 - the server drops the transaction with the connection
            pass


# ------------------------------------------------------------------ archive side


@dataclass(frozen=True)
class ArchiveEntry:
    dump_id: int
    desc: str
    schema: str
    tag: str


@dataclass
class ArchiveContents:
    """What ``pg_restore --list`` of an archive shows, in the manifest's terms."""

    entries: list[ArchiveEntry]

    @property
    def tables(self) -> set[str]:
        return {table_name(e.schema, e.tag) for e in self.entries if e.desc == "TABLE"}

    def count(self, kind: str) -> int:
        descs = ARCHIVE_KINDS.get(kind, ())
        return sum(1 for e in self.entries if e.desc in descs)


def parse_archive_list(text: str) -> ArchiveContents:
    """Parse ``pg_restore --list`` lines: ``ID; TABLEOID OID DESC SCHEMA TAG OWNER``."""
    entries: list[ArchiveEntry] = []
    for line in text.splitlines():
        if not line or line.startswith(";"):
            continue
        head, sep, rest = line.partition(";")
        if not sep or not head.strip().isdigit():
            continue
        parts = rest.strip().split(" ", 2)
        if len(parts) < 3:
            continue
        body = parts[2]
        desc = next((d for d in _DESCS if body == d or body.startswith(d + " ")), body.split(" ", 1)[0])
        tail = body[len(desc) + 1 :]
        schema, _, named = tail.partition(" ")
        tag = named.rsplit(" ", 1)[0] if " " in named else named
        entries.append(ArchiveEntry(int(head), desc, "" if schema == "-" else schema, tag))
    return ArchiveContents(entries)
