"""The doctor's checks that talk to servers: each database (both URLs, read rights, client
versions) and the bucket (list, write, read back, delete, SSE, Object Lock)."""

from __future__ import annotations

import os
import shutil
import uuid
from typing import TYPE_CHECKING, Any

import psycopg

from adapters import postgres
from core.config import Config, DatabaseConfig
from core.errors import BackupbotError
from core.i18n import N_, _
from core.redact import describe_url, redact

if TYPE_CHECKING:
    from adapters.crypto import KeyRing
    from engine.doctor import Report
    from engine.manifest import Manifest

CONNECT_TIMEOUT = 5
PROBE_PREFIX = "doctor/"

# Tables, views' base tables, sequences and schemas the dump role cannot read: pg_dump fails on the first.
_UNREADABLE = """
SELECT n.nspname || '.' || c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'm', 'S')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
  AND NOT (has_schema_privilege(n.oid, 'USAGE')
           AND CASE WHEN c.relkind = 'S' THEN has_sequence_privilege(c.oid, 'SELECT')
                    ELSE has_table_privilege(c.oid, 'SELECT') END)
ORDER BY 1 LIMIT 6
"""


def _connect(url: str) -> psycopg.Connection[Any]:
    return psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT, autocommit=True)


def _server_major(conn: psycopg.Connection[Any]) -> tuple[int, str]:
    num = int(conn.info.server_version)
    return num // 10000, f"{num // 10000}.{num % 10000}"


def _tool(name: str) -> tuple[str, str, int] | None:
    path = shutil.which(name)
    if not path:
        return None
    found = postgres._tool_version(path)
    return (path, found[0], found[1]) if found else None


def check_database(db: DatabaseConfig, report: Report) -> None:
    from engine.doctor import label

    area = label(N_("database {db}"), db=db.name)
    if not db.dump_url_env and db.neon_project_id:
        report.add(area, N_("dump URL"), "skip", _("a Neon-only database: backups are Neon branches"))
        return
    server: tuple[int, str] | None = None
    dump_major = 0
    try:
        url = db.dump_url()
    except BackupbotError as err:
        report.add(area, N_("dump URL"), "fail", err.message, err.hint or "")
        url = ""
    if url:
        where = describe_url(url)
        try:
            with _connect(url) as conn:
                server = _server_major(conn)
                report.add(
                    area,
                    N_("dump URL reachable"),
                    "ok",
                    _("{where}, PostgreSQL {version}").format(where=where, version=server[1]),
                )
                unreadable = [r[0] for r in conn.execute(_UNREADABLE).fetchall()]
                row = conn.execute("SELECT current_user").fetchone()
                role = str(row[0]) if row else ""
                if unreadable:
                    shown = ", ".join(unreadable[:5]) + (" …" if len(unreadable) > 5 else "")
                    report.add(
                        area,
                        N_("dump role can read everything"),
                        "fail",
                        _("{role} cannot read {tables}").format(role=role or _("the role"), tables=shown),
                        _(
                            "GRANT pg_read_all_data TO {role}; (PostgreSQL 14+), or GRANT USAGE/SELECT on those "
                            "schemas and tables."
                        ).format(role=role or _("the dump role")),
                    )
                else:
                    report.add(
                        area,
                        N_("dump role can read everything"),
                        "ok",
                        _("{role} can read every table and sequence").format(role=role or "?"),
                    )
        except psycopg.Error as exc:
            report.add(
                area,
                N_("dump URL reachable"),
                "fail",
                f"{where}: {redact(str(exc).strip(), [url])}",
                _("Check the server is up and {env}'s host, port, user and password.").format(
                    env=db.dump_url_env
                ),
            )
    if server is not None:
        try:
            tool = postgres.find_pg_dump(server[0], db.name, server[1])
            dump_major = tool.major
            report.add(
                area,
                N_("pg_dump version"),
                "ok",
                _("{path} {version} for server {server}").format(
                    path=tool.path, version=tool.version, server=server[1]
                ),
            )
        except BackupbotError as err:
            report.add(area, N_("pg_dump version"), "fail", err.message, err.hint or "")
    if not db.restore_url_env:
        report.add(area, N_("restore URL"), "skip", _("no restore_url_env: restores into it are refused"))
        return
    try:
        rurl = db.restore_url()
    except BackupbotError as err:
        report.add(area, N_("restore URL"), "fail", err.message, err.hint or "")
        return
    rwhere = describe_url(rurl)
    try:
        with _connect(rurl) as conn:
            rserver = _server_major(conn)
        report.add(
            area,
            N_("restore URL reachable"),
            "ok",
            _("{where}, PostgreSQL {version}").format(where=rwhere, version=rserver[1]),
        )
    except psycopg.Error as exc:
        report.add(
            area,
            N_("restore URL reachable"),
            "fail",
            f"{rwhere}: {redact(str(exc).strip(), [rurl])}",
            _("Check the server is up and {env}'s host, port, user and password.").format(
                env=db.restore_url_env
            ),
        )
        return
    tool = _tool("pg_restore")
    need = max(rserver[0], dump_major)
    if tool is None:
        report.add(
            area,
            N_("pg_restore version"),
            "fail",
            _("pg_restore is not on PATH"),
            _("Install postgresql-client-{major} (or newer).").format(major=need),
        )
    elif tool[2] < need:
        report.add(
            area,
            N_("pg_restore version"),
            "fail",
            _(
                "{path} {version} is older than the server ({server}) or the pg_dump the backups are made with"
            ).format(path=tool[0], version=tool[1], server=rserver[1]),
            _("Install postgresql-client-{major} and put its pg_restore first on PATH.").format(major=need),
        )
    else:
        report.add(area, N_("pg_restore version"), "ok", f"{tool[0]} {tool[1]}")


def check_databases(cfg: Config, report: Report) -> None:
    from engine.doctor import label

    for name in sorted(cfg.databases):
        try:
            check_database(cfg.databases[name], report)
        except Exception as exc:  # one broken database must not hide the others
            report.add(
                label(N_("database {db}"), db=name), N_("checks"), "fail", f"{type(exc).__name__}: {exc}"
            )


# ------------------------------------------------------------------- storage


def check_storage(cfg: Config, report: Report) -> Any:
    """The bucket answers to everything a backup needs; returns the storage for later checks, or None."""
    from adapters.storage import open_storage

    area = N_("storage")
    try:
        storage = open_storage(cfg.storage)
    except BackupbotError as err:
        report.add(area, N_("opens"), "fail", err.message, err.hint or "")
        return None
    with report.trying(area, N_("list"), _("Grant s3:ListBucket on the bucket (and its prefix).")) as out:
        next(iter(storage.list("")), None)
        out["detail"] = storage.describe()
    if hasattr(storage, "client"):
        from engine.doctor_s3 import check_s3

        check_s3(cfg, storage, report)
        return storage
    key = f"{PROBE_PREFIX}probe-{uuid.uuid4().hex}"
    data = os.urandom(64)
    with report.trying(area, N_("write, read back, delete a probe object")) as out:
        storage.put_bytes(key, data)
        if storage.get_bytes(key) != data:
            raise BackupbotError(_("the probe object read back differs from what was written"))
        storage.delete(key)
        out["detail"] = _("{key} written, read and deleted").format(key=key)
    return storage


def open_header(storage: Any, manifest: Manifest, ring: KeyRing) -> None:
    """Read the object's first bytes until its header is unwrapped with the loaded keys (or fails)."""
    from adapters.crypto import Decryptor

    dec = Decryptor(ring, _("backup {id}").format(id=manifest.id), expected_key_id=manifest.key_id or None)
    for block in storage.get_stream(manifest.key):
        dec.update(block)
        if dec.header_opened:
            return
    raise BackupbotError(_("backup {id} ends before its encryption header").format(id=manifest.id))
