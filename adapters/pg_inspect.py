"""Looking before writing: what a backup holds and what the restore target is like now.

Everything here is read-only. ``pg_restore --list`` reads only the table of contents at
the start of a custom-format dump, so the preflight costs the first few blocks of the
download, not the whole backup; the target is asked for its version, size, largest
tables and open sessions, which is what an approver needs to see before saying yes.
"""

from __future__ import annotations

import re
import subprocess
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import psycopg
from psycopg.conninfo import conninfo_to_dict

from adapters.pg_objects import DbObject, from_toc_line
from core.errors import PreflightError
from core.i18n import _, ngettext
from core.redact import describe_url, redact

STDERR_TAIL_CHARS = 2500
_LIST_LINE = re.compile(r"^\d+;\s*\d+\s+\d+\s+(?P<rest>.+)$")
_KINDS = (
    "TABLE DATA",
    "TABLE ATTACH",
    "INDEX ATTACH",
    "SEQUENCE SET",
    "SEQUENCE OWNED BY",
    "MATERIALIZED VIEW DATA",
    "MATERIALIZED VIEW",
    "FK CONSTRAINT",
    "CONSTRAINT",
    "INDEX",
    "TABLE",
    "SEQUENCE",
    "VIEW",
    "FUNCTION",
    "SCHEMA",
    "EXTENSION",
    "TYPE",
    "TRIGGER",
    "DEFAULT",
)


@dataclass(frozen=True)
class ArchiveSummary:
    """What ``pg_restore --list`` says about a custom-format archive."""

    counts: dict[str, int]
    schemas: tuple[str, ...]
    dumped_from: str  # server version the dump was taken from, e.g. "15.20"
    dumped_by: str  # pg_dump version
    entries: int
    objects: frozenset[DbObject] = frozenset()  # named objects, to compare with the target's

    def count(self, kind: str) -> int:
        return self.counts.get(kind, 0)

    def describe(self) -> str:
        keys = self.count("INDEX") + self.count("CONSTRAINT")
        tables = self.count("TABLE")
        parts = [
            ngettext("{n} table", "{n} tables", tables).format(n=tables),
            ngettext("{n} index or constraint", "{n} indexes and constraints", keys).format(n=keys),
        ]
        views, sequences, matviews = (
            self.count("VIEW"),
            self.count("SEQUENCE"),
            self.count("MATERIALIZED VIEW"),
        )
        if views:
            parts.append(ngettext("{n} view", "{n} views", views).format(n=views))
        if sequences:
            parts.append(ngettext("{n} sequence", "{n} sequences", sequences).format(n=sequences))
        if matviews:
            parts.append(ngettext("{n} mat. view", "{n} mat. views", matviews).format(n=matviews))
        if not self.schemas:
            return _("{objects} in no schema").format(objects=", ".join(parts))
        return _("{objects} in {schemas}").format(objects=", ".join(parts), schemas=", ".join(self.schemas))


@dataclass(frozen=True)
class Session:
    pid: int
    user: str
    application: str
    client: str
    state: str
    since: str

    def describe(self) -> str:
        app = f" ({self.application})" if self.application else ""
        return _("pid {pid} {user} from {client}, {state}").format(
            pid=self.pid, user=f"{self.user}{app}", client=self.client or _("local socket"), state=self.state
        )


@dataclass(frozen=True)
class TargetInfo:
    """The target as it is now: what a restore would overwrite."""

    where: str  # user@host:port/dbname, nothing secret
    server_version: str
    server_major: int
    size_bytes: int
    tables: int
    largest: tuple[tuple[str, int], ...]  # (table, bytes), biggest first
    sessions: tuple[Session, ...] = field(default=())


def major(version: str) -> int:
    """'15.20 (Debian …)' → 15; '9.6.3' → 9 (old scheme, close enough to compare)."""
    m = re.match(r"\s*(\d+)", version)
    return int(m.group(1)) if m else 0


def parse_list(text: str) -> ArchiveSummary:
    counts: dict[str, int] = {}
    schemas: set[str] = set()
    dumped_from = dumped_by = ""
    entries = 0
    objects: set[DbObject] = set()
    for line in text.splitlines():
        if line.startswith(";"):
            if "Dumped from database version:" in line:
                dumped_from = line.split(":", 1)[1].strip()
            elif "Dumped by pg_dump version:" in line:
                dumped_by = line.split(":", 1)[1].strip()
            continue
        m = _LIST_LINE.match(line)
        if not m:
            continue
        entries += 1
        rest = m.group("rest")
        kind = next((k for k in _KINDS if rest.startswith(k + " ")), rest.split(" ", 1)[0])
        counts[kind] = counts.get(kind, 0) + 1
        obj = from_toc_line(kind, rest[len(kind) :])
        if obj is not None:
            objects.add(obj)
        tail = rest[len(kind) :].split()
        if kind == "TABLE" and tail and tail[0] != "-":
            schemas.add(tail[0])
    return ArchiveSummary(counts, tuple(sorted(schemas)), dumped_from, dumped_by, entries, frozenset(objects))


def _pg_restore_version() -> str:
    try:
        out = subprocess.run(["pg_restore", "--version"], capture_output=True, text=True, check=True).stdout
    except (FileNotFoundError, subprocess.CalledProcessError):
        raise PreflightError(
            _("pg_restore is not installed on the bot's machine"),
            hint=_(
                "Install the PostgreSQL client tools (`apt-get install postgresql-client-NN`, NN ≥ the server's)."
            ),
        ) from None
    return out.strip().rsplit(" ", 1)[-1]


def summarize_archive(chunks: Iterable[bytes]) -> ArchiveSummary:
    """Feed the start of a plain dump to ``pg_restore --list``; it stops after the table of contents."""
    proc = subprocess.Popen(
        ["pg_restore", "--list"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out: dict[str, bytes] = {}
    readers = [
        threading.Thread(target=lambda: out.__setitem__("stdout", proc.stdout.read())),  # type: ignore[union-attr]
        threading.Thread(target=lambda: out.__setitem__("stderr", proc.stderr.read())),  # type: ignore[union-attr]
    ]
    for t in readers:
        t.start()
    iterator = iter(chunks)
    try:
        for chunk in iterator:
            if proc.poll() is not None:
                break
            proc.stdin.write(chunk)  # type: ignore[union-attr]
    except BrokenPipeError:
        pass
    finally:
        close = getattr(iterator, "close", None)
        if close:
            close()
        try:
            proc.stdin.close()  # type: ignore[union-attr]
        except BrokenPipeError:
            pass
    proc.wait()
    for t in readers:
        t.join()
    if proc.returncode != 0:
        raise PreflightError(
            _("`pg_restore --list` could not read the backup"),
            detail=redact(out.get("stderr", b"").decode("utf-8", "replace"))[-STDERR_TAIL_CHARS:],
            hint=_("The backup may not be a custom-format dump, or it needs a newer pg_restore."),
        )
    return parse_list(out.get("stdout", b"").decode("utf-8", "replace"))


@contextmanager
def connect_target(url: str, database: str) -> Iterator[psycopg.Connection]:
    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as exc:
        raise PreflightError(
            _("cannot connect to the restore target '{db}'").format(db=database),
            detail=f"{describe_url(url)}: {redact(str(exc), [password_of(url)]).strip()}",
            hint=_("Check that the server is up and that the restore URL's role can log in."),
        ) from None
    with conn:
        yield conn


def _sessions(conn: psycopg.Connection) -> tuple[Session, ...]:
    rows = conn.execute(
        "SELECT pid, coalesce(usename, ''), coalesce(application_name, ''), coalesce(client_addr::text, ''),"
        " coalesce(state, ''), coalesce(to_char(backend_start, 'YYYY-MM-DD HH24:MI:SSOF'), '')"
        " FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        " AND backend_type = 'client backend' ORDER BY backend_start"
    ).fetchall()
    return tuple(Session(*row) for row in rows)


def list_sessions(url: str, database: str) -> tuple[Session, ...]:
    """Client sessions on the target other than our own."""
    with connect_target(url, database) as conn:
        return _sessions(conn)


def inspect_target(url: str, database: str) -> TargetInfo:
    with connect_target(url, database) as conn:
        version = str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
        size = int(conn.execute("SELECT pg_database_size(current_database())").fetchone()[0])  # type: ignore[index]
        largest = conn.execute(
            "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname), pg_total_relation_size(c.oid)"
            " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
            " AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 2 DESC, 1"
        ).fetchall()
        sessions = _sessions(conn)
    return TargetInfo(
        where=describe_url(url),
        server_version=version,
        server_major=major(version),
        size_bytes=size,
        tables=len(largest),
        largest=tuple((str(n), int(s)) for n, s in largest[:5]),
        sessions=sessions,
    )


def version_problems(archive: ArchiveSummary, target: TargetInfo) -> tuple[list[str], list[str]]:
    """(blocking, warnings) about versions: pg_restore must read the archive; the server should too."""
    blocking: list[str] = []
    warnings: list[str] = []
    ours = _pg_restore_version()
    if major(archive.dumped_by) > major(ours):
        blocking.append(
            _(
                "the backup was made by pg_dump {dumped_by} and this pg_restore is {ours}: "
                "install postgresql-client-{major} or newer"
            ).format(dumped_by=archive.dumped_by, ours=ours, major=major(archive.dumped_by))
        )
    if major(archive.dumped_from) > target.server_major:
        warnings.append(
            _(
                "the backup comes from PostgreSQL {dumped_from}, the target runs {version}: "
                "restoring into an older server can fail on newer syntax"
            ).format(dumped_from=archive.dumped_from, version=target.server_version)
        )
    return blocking, warnings


def password_of(url: str) -> str:
    try:
        return str(conninfo_to_dict(url).get("password") or "")
    except psycopg.ProgrammingError:
        return ""
