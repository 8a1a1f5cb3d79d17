"""Whole databases on a server: who they are, create, rename, drop, and what belongs to them.

A swap restore builds the backup into a fresh database and then renames it into place, so
the restore never has to drop anything inside the target (``--clean`` cannot drop an
inherited constraint of a partition, nor a table an object outside the backup depends
on). Everything here talks to the server through a *maintenance* connection — the same
URL pointed at the ``postgres`` database — because a database cannot be renamed or
dropped by a session connected to it.

What belongs to a database rather than to its contents (owner, ``ALTER DATABASE … SET``
and ``ALTER ROLE … IN DATABASE … SET`` settings, database-level grants, comment,
connection limit) is not in a pg_dump archive, so ``carry_over`` copies it from the
previous database to the new one inside the same transaction as the renames.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from core.errors import PreflightError, RestoreError
from core.i18n import _, ngettext
from core.redact import describe_url, redact

MAINTENANCE_DATABASES = ("postgres", "template1")
MAX_NAME = 63  # NAMEDATALEN - 1


def dbname_of(url: str) -> str:
    return str(conninfo_to_dict(url).get("dbname") or "")


def with_dbname(url: str, dbname: str) -> str:
    params = conninfo_to_dict(url)
    params["dbname"] = dbname
    return make_conninfo(**{k: str(v) for k, v in params.items() if v is not None})


def _password(url: str) -> str:
    try:
        return str(conninfo_to_dict(url).get("password") or "")
    except psycopg.ProgrammingError:
        return ""


@contextmanager
def maintenance_connection(url: str) -> Iterator[psycopg.Connection]:
    """A connection to the same server as ``url`` but not to its database (postgres, else template1)."""
    last = ""
    for name in MAINTENANCE_DATABASES:
        try:
            conn = psycopg.connect(with_dbname(url, name), autocommit=True, connect_timeout=10)
        except psycopg.OperationalError as exc:
            last = redact(str(exc), [_password(url)]).strip()
            continue
        with conn:
            yield conn
        return
    raise RestoreError(
        _("cannot reach a maintenance database on the target's server"),
        detail=_("{where} with database postgres or template1: {error}").format(
            where=describe_url(url), error=last
        ),
        hint=_(
            "The restore role must be able to connect to the postgres database to create and rename "
            'databases; or set `restore_method = "clean"`.'
        ),
    )


@dataclass(frozen=True)
class Identity:
    system_identifier: str
    database: str

    def describe(self) -> str:
        return _("database {db} on server {server}").format(db=self.database, server=self.system_identifier)


def identity(url: str) -> Identity:
    """The server's system identifier (from its control file) and the database name: what a URL reaches."""
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
            row = conn.execute(
                "SELECT (SELECT system_identifier::text FROM pg_control_system()), current_database()"
            ).fetchone()
    except psycopg.Error as exc:
        raise PreflightError(
            _("cannot tell which database a URL reaches"),
            detail=f"{describe_url(url)}: {redact(str(exc), [_password(url)]).strip()}",
            hint=_("Check that the server is up and the role can log in."),
        ) from None
    assert row is not None
    return Identity(str(row[0]), str(row[1]))


def swap_rights(url: str) -> tuple[bool, str]:
    """(may swap, why): the role must create databases and own (or be superuser over) the target."""
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
            row = conn.execute(
                "SELECT r.rolsuper, r.rolcreatedb, pg_has_role(current_user, d.datdba, 'MEMBER'), current_user"
                " FROM pg_roles r, pg_database d"
                " WHERE r.rolname = current_user AND d.datname = current_database()"
            ).fetchone()
    except psycopg.Error as exc:
        return False, _("cannot check the restore role's rights ({error})").format(error=type(exc).__name__)
    assert row is not None
    superuser, createdb, owns, user = bool(row[0]), bool(row[1]), bool(row[2]), str(row[3])
    if superuser:
        return True, _("role {role} is a superuser").format(role=user)
    if not createdb:
        return False, _("role {role} may not create databases (no CREATEDB)").format(role=user)
    if not owns:
        return False, _("role {role} does not own the target database, so it may not rename it").format(
            role=user
        )
    return True, _("role {role} may create databases and owns the target").format(role=user)


def exists(conn: psycopg.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


def allows_connections(conn: psycopg.Connection, name: str) -> bool | None:
    row = conn.execute("SELECT datallowconn FROM pg_database WHERE datname = %s", (name,)).fetchone()
    return None if row is None else bool(row[0])


def create_like(conn: psycopg.Connection, new: str, like: str) -> None:
    """An empty database (from template0) with the encoding, locale and tablespace of ``like``."""
    row = conn.execute(
        "SELECT pg_encoding_to_char(d.encoding), d.datcollate, d.datctype, d.datlocprovider::text,"
        " d.daticulocale, t.spcname FROM pg_database d JOIN pg_tablespace t ON t.oid = d.dattablespace"
        " WHERE d.datname = %s",
        (like,),
    ).fetchone()
    if row is None:
        raise RestoreError(_("database {db} does not exist on the target's server").format(db=like))
    encoding, collate, ctype, provider, icu, tablespace = row
    parts = [
        sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING {} LC_COLLATE {} LC_CTYPE {}").format(
            sql.Identifier(new), sql.Literal(encoding), sql.Literal(collate), sql.Literal(ctype)
        )
    ]
    if provider == "i" and icu:
        parts.append(sql.SQL("LOCALE_PROVIDER icu ICU_LOCALE {}").format(sql.Literal(icu)))
    if tablespace != "pg_default":
        parts.append(sql.SQL("TABLESPACE {}").format(sql.Identifier(tablespace)))
    conn.execute(sql.SQL(" ").join(parts))


def drop(conn: psycopg.Connection, name: str) -> bool:
    """Drop ``name`` (ending its sessions); False when it was not there."""
    if not exists(conn, name):
        return False
    conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
    return True


def set_connections(conn: psycopg.Connection, name: str, allow: bool) -> None:
    conn.execute(
        sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS {}").format(
            sql.Identifier(name), sql.SQL("true" if allow else "false")
        )
    )


def _pids(conn: psycopg.Connection, name: str) -> list[int]:
    rows = conn.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (name,)
    ).fetchall()
    return [int(r[0]) for r in rows]


def end_sessions(conn: psycopg.Connection, name: str, mode: str, timeout: float) -> int:
    """Terminate (or wait for) every session on ``name``; returns how many there were."""
    pids = _pids(conn, name)
    if mode == "terminate":
        for pid in pids:
            conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
        timeout = 10.0
    deadline = time.monotonic() + timeout
    while _pids(conn, name) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = _pids(conn, name)
    if left:
        if mode == "terminate":
            message = ngettext(
                "{n} sessions are still open on '{db}'",
                "{n} sessions are still open on '{db}'",
                len(left),
            )
        else:
            message = ngettext(
                "{n} sessions are still open on '{db}' after waiting {seconds} s",
                "{n} sessions are still open on '{db}' after waiting {seconds} s",
                len(left),
            )
        raise RestoreError(
            message.format(n=len(left), db=name, seconds=f"{timeout:g}"),
            hint=_(
                'Stop the app (maintenance mode) or set `restore_sessions = "terminate"` and give the '
                "restore role pg_signal_backend."
            ),
        )
    return len(pids)


def _settings(conn: psycopg.Connection, name: str) -> list[tuple[str | None, str, str]]:
    """(role or None for the whole database, setting, value) of ``name``."""
    rows = conn.execute(
        "SELECT r.rolname, s.setconfig FROM pg_db_role_setting s"
        " JOIN pg_database d ON d.oid = s.setdatabase LEFT JOIN pg_roles r ON r.oid = s.setrole"
        " WHERE d.datname = %s ORDER BY 1 NULLS FIRST",
        (name,),
    ).fetchall()
    out: list[tuple[str | None, str, str]] = []
    for role, config in rows:
        for item in config or []:
            key, _sep, value = str(item).partition("=")
            out.append((role, key, value))
    return out


def describe_database(conn: psycopg.Connection, name: str) -> dict[str, object]:
    """Owner, settings, grants, comment and connection limit of ``name``: what ``carry_over`` copies."""
    row = conn.execute(
        "SELECT pg_get_userbyid(d.datdba), d.datconnlimit, shobj_description(d.oid, 'pg_database'),"
        " d.datacl IS NULL,"
        " coalesce((SELECT array_agg(CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END"
        "   || ':' || a.privilege_type || CASE WHEN a.is_grantable THEN '*' ELSE '' END ORDER BY 1)"
        "   FROM aclexplode(d.datacl) a WHERE a.grantee <> d.datdba), '{}')"
        " FROM pg_database d WHERE d.datname = %s",
        (name,),
    ).fetchone()
    if row is None:
        raise RestoreError(_("database {db} does not exist on the target's server").format(db=name))
    return {
        "owner": row[0],
        "connection_limit": row[1],
        "comment": row[2],
        "default_grants": bool(row[3]),
        "grants": list(row[4]),
        "settings": _settings(conn, name),
    }


def carry_over(conn: psycopg.Connection, source: str, dest: str) -> None:
    """Give ``dest`` the owner, settings, grants, comment and connection limit of ``source``.

    Settings go through ``set_config`` + ``SET … FROM CURRENT`` so list values such as
    ``search_path = a, b`` are parsed exactly as the server stored them. Runs in the caller's
    transaction, so the switch either happens with all of it or not at all.
    """
    about = describe_database(conn, source)
    d = sql.Identifier(dest)
    conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(d, sql.Identifier(str(about["owner"]))))
    conn.execute(
        sql.SQL("ALTER DATABASE {} WITH CONNECTION LIMIT {}").format(
            d,
            sql.Literal(int(about["connection_limit"])),  # type: ignore[call-overload]
        )
    )
    conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(d, sql.Literal(about["comment"])))
    for role, key, value in about["settings"]:  # type: ignore[attr-defined]
        conn.execute("SELECT set_config(%s, %s, true)", (key, value))
        target = (
            sql.SQL("ALTER ROLE {} IN DATABASE {}").format(sql.Identifier(role), d)
            if role
            else sql.SQL("ALTER DATABASE {}").format(d)
        )
        conn.execute(sql.SQL("{} SET {} FROM CURRENT").format(target, sql.Identifier(key)))
    if not about["default_grants"]:
        conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(d))
        for grant in about["grants"]:  # type: ignore[attr-defined]
            who, _sep, priv = str(grant).partition(":")
            option = priv.endswith("*")
            grantee = sql.SQL("PUBLIC") if who == "PUBLIC" else sql.Identifier(who)
            conn.execute(
                sql.SQL("GRANT {} ON DATABASE {} TO {}{}").format(
                    sql.SQL(priv.rstrip("*")), d, grantee, sql.SQL(" WITH GRANT OPTION" if option else "")
                )
            )


def rename(conn: psycopg.Connection, old: str, new: str) -> None:
    conn.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(old), sql.Identifier(new)))


@dataclass(frozen=True)
class Switched:
    sessions: int
    seconds: float  # from refusing new connections to the commit of the renames


def switch(
    conn: psycopg.Connection,
    *,
    target: str,
    new: str,
    previous: str,
    sessions: str = "terminate",
    timeout: float = 600,
    carry: bool = True,
) -> Switched:
    """Put ``new`` in place of ``target``, keeping the old one as ``previous``: all or nothing.

    New connections to the target are refused first (so none can slip in after its sessions
    ended), then both renames and ``carry_over`` commit in one transaction. On any failure the
    transaction rolls back and the target accepts connections again, under its own name.
    ``carry`` is False for an undo: the database put back still has its own owner and settings.
    """
    started = time.monotonic()
    if not exists(conn, new):
        raise RestoreError(_("the restored database {db} is missing; nothing was switched").format(db=new))
    if exists(conn, previous):
        raise RestoreError(
            _("a database named {db} already exists; nothing was switched").format(db=previous),
            hint=_("Drop or rename it, then run the restore again."),
        )
    allowed = allows_connections(conn, target)
    set_connections(conn, target, False)
    try:
        closed = end_sessions(conn, target, sessions, timeout)
        with conn.transaction():
            rename(conn, target, previous)
            rename(conn, new, target)
            if carry:
                carry_over(conn, previous, target)
            if allowed:
                set_connections(conn, previous, True)
    except BaseException:
        if exists(conn, target) and allowed:
            set_connections(conn, target, True)
        raise
    return Switched(closed, time.monotonic() - started)
