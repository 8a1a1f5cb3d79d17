"""A staged dump file and a scratch database: list it, restore it (whole or in part), count rows.

Used by verification, the drill's scratch mode and one-table restores. Nothing here can
touch a configured database: callers pass the URL of a scratch database they created.
The password travels in ``PGPASSWORD``, never on a command line, and whatever pg_restore
prints is redacted before anyone reads it.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from core.errors import PreflightError
from core.i18n import _
from core.redact import redact

STDERR_TAIL = 2500


@dataclass(frozen=True)
class PgRestoreRun:
    code: int
    stderr: str
    seconds: float


def _split(url: str) -> tuple[str, dict[str, str], str]:
    params = conninfo_to_dict(url)
    password = str(params.pop("password", "") or "")
    env = dict(os.environ)
    if password:
        env["PGPASSWORD"] = password
    return make_conninfo(**{k: str(v) for k, v in params.items() if v is not None}), env, password


def list_archive(path: Path) -> str:
    """``pg_restore --list`` of a staged dump file."""
    proc = subprocess.run(["pg_restore", "--list", str(path)], capture_output=True, check=False)
    if proc.returncode != 0:
        raise PreflightError(
            _("`pg_restore --list` could not read the backup"),
            detail=redact(proc.stderr.decode("utf-8", "replace"))[-STDERR_TAIL:],
            hint=_("The archive is damaged or needs a newer pg_restore."),
        )
    return proc.stdout.decode("utf-8", "replace")


def restore_into(url: str, path: Path, *, jobs: int = 1, use_list: Path | None = None) -> PgRestoreRun:
    """``pg_restore`` into a scratch database: no owners, no grants (roles differ between servers)."""
    conninfo, env, password = _split(url)
    argv = ["pg_restore", "--no-owner", "--no-acl", f"--dbname={conninfo}", f"--jobs={max(1, jobs)}"]
    if use_list is not None:
        argv.append(f"--use-list={use_list}")
    argv.append(str(path))
    started = time.monotonic()
    proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, check=False)
    stderr = redact(proc.stderr.decode("utf-8", "replace"), [password, url]).strip()
    return PgRestoreRun(proc.returncode, stderr[-STDERR_TAIL:], time.monotonic() - started)


def connect(url: str) -> psycopg.Connection[Any]:
    return psycopg.connect(url, autocommit=True, connect_timeout=10)


def split_name(table: str) -> tuple[str, str]:
    """``schema.name`` as the manifest keys it (the first dot separates: schema names rarely hold one)."""
    schema, _sep, name = table.partition(".")
    return schema, name


def count_rows(url: str, tables: list[str]) -> dict[str, int | None]:
    """Rows of each table (its own rows, not its partitions'); None where the table does not exist."""
    out: dict[str, int | None] = {}
    with connect(url) as conn:
        for table in tables:
            schema, name = split_name(table)
            found = conn.execute(
                "SELECT c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s AND c.relname = %s",
                (schema, name),
            ).fetchone()
            if found is None:
                out[table] = None
                continue
            row = conn.execute(
                sql.SQL("SELECT count(*) FROM ONLY {}").format(sql.Identifier(schema, name))
            ).fetchone()
            out[table] = int(row[0]) if row else 0
    return out


def table_checksum(url: str, table: str) -> tuple[int, str]:
    """Row count and an order-independent md5 of the rows' text form."""
    schema, name = split_name(table)
    with connect(url) as conn:
        row = conn.execute(
            sql.SQL(
                "SELECT count(*), coalesce(md5(string_agg(md5(t::text), '' ORDER BY md5(t::text))), '') FROM {} t"
            ).format(sql.Identifier(schema, name))
        ).fetchone()
    assert row is not None
    return int(row[0]), str(row[1])
