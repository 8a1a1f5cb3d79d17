"""The PostgreSQL side of a dump: preflight checks through psycopg and ``pg_dump`` as a stream.

Why a preflight: a nightly dump that fails after uploading half a gigabyte wastes the window
and says little; asking the server first (does it answer, which version, how many tables)
turns the common failures into one clear message before anything is written.

Why the password travels in the environment: a URL on pg_dump's command line is readable by
every user on the host through /proc; ``PGPASSWORD`` in the child's environment is not.
"""

from __future__ import annotations

import fcntl
import functools
import os
import re
import shutil
import subprocess
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from core.errors import PreflightError
from core.i18n import _
from core.redact import describe_url, redact

CONNECT_TIMEOUT = 10
_STDERR_KEEP = 64 * 1024
_PIPE_SIZE = 1024 * 1024
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
_STDOUT_BUFFER = "1M"
# Debian keeps one bin/ per major version here; BACKUPBOT_PG_LIB_DIR points elsewhere (Homebrew, a container)
PG_LIB_DIR = os.environ.get("BACKUPBOT_PG_LIB_DIR", "/usr/lib/postgresql")


@dataclass(frozen=True)
class ServerInfo:
    version: str  # e.g. "15.20"
    major: int
    table_count: int
    migration_head: dict[str, Any] | None  # newest applied Prisma migration, if the app has the table


@dataclass(frozen=True)
class PgDumpTool:
    path: str
    version: str
    major: int


def _split_secret(url: str) -> tuple[str, dict[str, str]]:
    """The conninfo without its password, and the env that carries the password instead."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise PreflightError(
            _("the database URL cannot be parsed"),
            detail=redact(str(exc), [url]),
            hint=_("Use postgresql://USER:PASSWORD@HOST:5432/DBNAME (percent-encode special characters)."),
        ) from None
    env: dict[str, str] = {}
    password = params.pop("password", None)
    if password:
        env["PGPASSWORD"] = str(password)
    return make_conninfo(**{k: str(v) for k, v in params.items() if v is not None}), env


def server_info(url: str, database: str) -> ServerInfo:
    """Does the database answer, which version is it, how many tables, which migration is applied."""
    where = describe_url(url)
    try:
        conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        # libpq quotes pieces of the bad string in its message, so it is not shown.
        raise PreflightError(
            _("the connection URL of database '{db}' cannot be parsed").format(db=database),
            detail=_("{where}: not a valid postgresql:// URL or key=value connection string.").format(
                where=where
            ),
            hint=_("Use postgresql://USER:PASSWORD@HOST:5432/DBNAME (percent-encode special characters)."),
        ) from None
    try:
        with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT, autocommit=True) as conn:
            num = int(conn.info.server_version)
            major = num // 10000
            version = f"{major}.{num % 10000}"
            row = conn.execute(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
                "AND n.nspname NOT LIKE 'pg_toast%'"
            ).fetchone()
            tables = int(row[0]) if row else 0
            head = _prisma_head(conn)
    except psycopg.OperationalError as exc:
        raise PreflightError(
            _("database '{db}' does not answer").format(db=database),
            detail=f"{where}: {redact(str(exc).strip(), [url])}",
            hint=_("Check that the server is up and the dump URL's host, port, user and password are right."),
        ) from None
    except psycopg.Error as exc:
        raise PreflightError(
            _("database '{db}' refused the preflight queries").format(db=database),
            detail=f"{where}: {redact(str(exc).strip(), [url])}",
            hint=_("The dump role needs CONNECT and read access (`GRANT pg_read_all_data TO` the role)."),
        ) from None
    return ServerInfo(version, major, tables, head)


def _prisma_head(conn: psycopg.Connection[Any]) -> dict[str, Any] | None:
    found = conn.execute("SELECT to_regclass('_prisma_migrations') IS NOT NULL").fetchone()
    if not found or not found[0]:
        return None
    row = conn.execute(
        "SELECT migration_name, finished_at FROM _prisma_migrations "
        "WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL "
        "ORDER BY finished_at DESC, migration_name DESC LIMIT 1"
    ).fetchone()
    if row is None:
        return {"table": "_prisma_migrations", "name": None, "finished_at": None}
    return {
        "table": "_prisma_migrations",
        "name": row[0],
        "finished_at": row[1].isoformat() if row[1] else None,
    }


def _tool_version(path: str) -> tuple[str, int] | None:
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30, check=False)
    except OSError:
        return None
    match = re.search(r"(\d+)(?:\.(\d+))?", out.stdout)
    if out.returncode != 0 or not match:
        return None
    return match.group(0), int(match.group(1))


def find_pg_dump(server_major: int, database: str, server_version: str) -> PgDumpTool:
    """pg_dump from PATH, or a newer one from /usr/lib/postgresql when PATH's is too old for the server."""
    candidates: list[str] = []
    on_path = shutil.which("pg_dump")
    if on_path:
        candidates.append(on_path)
    versioned = [d for d in Path(PG_LIB_DIR).glob("*/bin") if d.parent.name.isdigit()]
    for bindir in sorted(versioned, key=lambda d: int(d.parent.name), reverse=True):
        exe = bindir / "pg_dump"
        if exe.is_file():
            candidates.append(str(exe))
    seen: list[PgDumpTool] = []
    for path in candidates:
        found = _tool_version(path)
        if found is None:
            continue
        tool = PgDumpTool(path, found[0], found[1])
        if tool.major >= server_major:
            return tool
        seen.append(tool)
    if not seen:
        raise PreflightError(
            _("pg_dump is not installed"),
            detail=_(
                "No pg_dump on PATH or in /usr/lib/postgresql/*/bin (needed for database '{db}')."
            ).format(db=database),
            hint=_(
                "Install the PostgreSQL {major} client tools (`apt-get install postgresql-client-{major}`)."
            ).format(major=server_major),
        )
    best = seen[0]
    raise PreflightError(
        _("pg_dump {version} is older than the server of database '{db}' ({server})").format(
            version=best.version, db=database, server=server_version
        ),
        detail=_(
            "{path} is major version {major}; the server is {server_major}. pg_dump refuses to dump a newer server."
        ).format(path=best.path, major=best.major, server_major=server_major),
        hint=_(
            "Install postgresql-client-{major} (or newer) and make sure its pg_dump comes first on PATH."
        ).format(major=server_major),
    )


@functools.cache
def _stdbuf_prefix() -> tuple[str, ...]:
    """``stdbuf -o 1M`` when coreutils' stdbuf works here, else nothing.

    Why: pg_dump writes its archive through stdio, whose buffer on a pipe is one 4 KB page,
    so a 1.2 GB dump is 300,000 ``write`` calls, each waking our reader for 4 KB (measured:
    302,162 writes, and as many wake-ups on our side). With a 1 MB stdio buffer it is ~1,200.
    Nothing about the archive changes; where stdbuf is missing or its preload library cannot
    load (a slim image), pg_dump simply runs as it is.
    """
    exe = shutil.which("stdbuf")
    if exe is None:
        return ()
    try:
        ok = subprocess.run(  # noqa: S603 - argv list, no shell
            [exe, "-o", _STDOUT_BUFFER, "true"], capture_output=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return ()
    return (exe, "-o", _STDOUT_BUFFER) if ok.returncode == 0 else ()


class DumpProcess:
    """A running ``pg_dump --format=custom -Z0`` whose stdout is the dump and stderr is kept, redacted."""

    def __init__(self, tool: PgDumpTool, url: str, snapshot: str = "") -> None:
        conninfo, extra_env = _split_secret(url)
        self._secrets = [url, *extra_env.values()]
        env = {**os.environ, **extra_env, "PGCONNECT_TIMEOUT": str(CONNECT_TIMEOUT)}
        argv = [
            *_stdbuf_prefix(),
            tool.path,
            "--format=custom",
            "--compress=0",
            "--no-password",
            f"--dbname={conninfo}",
        ]
        if snapshot:  # the snapshot rows were counted in (adapters.pg_contents)
            argv.append(f"--snapshot={snapshot}")
        try:
            self.proc = subprocess.Popen(  # noqa: S603 - argv list, no shell
                argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env
            )
        except OSError as exc:
            raise PreflightError(
                _("cannot start {path}").format(path=tool.path),
                detail=exc.strerror,
                hint=_("Check the PostgreSQL client install."),
            ) from None
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self.stdout: IO[bytes] = self.proc.stdout
        try:
            fcntl.fcntl(self.stdout.fileno(), _F_SETPIPE_SZ, _PIPE_SIZE)
        except OSError:
            pass  # a bigger pipe only smooths the flow; the default works
        self._stderr: deque[bytes] = deque()
        self._stderr_len = 0
        self._stderr_thread = threading.Thread(target=self._drain_stderr, name="pg_dump-stderr", daemon=True)
        self._stderr_thread.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _drain_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._stderr.append(line)
            self._stderr_len += len(line)
            while self._stderr_len > _STDERR_KEEP and len(self._stderr) > 1:
                self._stderr_len -= len(self._stderr.popleft())

    def stderr_text(self) -> str:
        self._stderr_thread.join(timeout=5)
        text = b"".join(self._stderr).decode("utf-8", "replace").strip()
        return redact(text, self._secrets)

    def read(self, size: int) -> bytes:
        """Up to ``size`` bytes, waiting to fill them: pg_dump may write 4 KB at a time (no stdbuf),
        and handing each 4 KB piece through the pipeline's queues would cost more than the dump."""
        return self.stdout.read(size)

    def wait(self, timeout: float | None = None) -> int:
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self.stdout.close()
