"""Scratch databases on the verification server: made for one check, always dropped afterwards.

Why a book of them: a verification killed mid-restore (OOM, redeploy, ``kill -9``) cannot
drop what it made, so every scratch database is written into the book *before* it is
created, with the process that owns it; whoever starts next (a verification, the CLI, the
scheduler's tick) drops the ones whose owner is gone. A one-table restore is kept on
purpose until its ``expires_at`` (``[verify] scratch_ttl_hours``), then dropped the same way.

Why the name is fixed-shape (``backupbot_scratch_<job or pid>_<random>``): a person looking
at the server sees at once what made it, and nothing here ever drops a database whose name
does not start with ``SCRATCH_PREFIX``.

Why the server is checked: the verification URL is an admin URL that may create databases;
pointed at a configured source or target by mistake, it would put scratch load (and, for a
typo in a name, worse) on a database people depend on. So its database must not be one of
the configured ones.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from core.config import Config
from core.errors import ConfigError, PreflightError
from core.i18n import _
from core.redact import describe_url, redact

log = logging.getLogger(__name__)

SCRATCH_PREFIX = "backupbot_scratch_"
VERIFY_KEEP = timedelta(hours=48)  # a verify's scratch database outlives its owner at most this long
_PROCESS_TOKEN = uuid.uuid4().hex[:8]  # tells this process from an earlier life with the same pid


def owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{_PROCESS_TOKEN}"


@dataclass(frozen=True)
class ScratchRecord:
    name: str
    server: str  # user@host:port/db of the verification server, no password
    purpose: str  # "verify", "drill" or "restore-table"
    backup_id: str
    owner: str  # host:pid:token of the process that made it
    created_at: str
    expires_at: str
    job_id: int | None = None
    status: str = "creating"  # "ready" once a restore-table handed it to a person

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class ScratchBook(Protocol):
    """Where scratch databases are written down (the job store's ``scratch_databases`` table)."""

    def add(self, rec: ScratchRecord) -> None: ...

    def update(self, name: str, **fields: Any) -> None: ...

    def remove(self, name: str) -> None: ...

    def all(self) -> list[ScratchRecord]: ...

    def job_active(self, job_id: int) -> bool: ...


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="seconds")


def _parse(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _where(url: str) -> tuple[str, str, str]:
    try:
        p = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return ("", "", "")
    host = str(p.get("host") or "localhost")
    if host in ("127.0.0.1", "::1") or host.startswith("/"):
        host = "localhost"
    return (host, str(p.get("port") or "5432"), str(p.get("dbname") or p.get("user") or ""))


def server_url(cfg: Config) -> str:
    """The verification server's admin URL, refused if it is a configured source or target."""
    url = cfg.verify.url(cfg.path)
    mine = _where(url)
    for db in cfg.databases.values():
        for setting, env in (("dump_url_env", db.dump_url_env), ("restore_url_env", db.restore_url_env)):
            other = os.environ.get(env or "", "")
            if other and _where(other) == mine:
                raise ConfigError(
                    _("the verification server URL points at database '{db}'").format(db=db.name),
                    detail=_(
                        "[verify] url_env ({env}) and [databases.{db}] {setting} both name {where}."
                    ).format(env=cfg.verify.url_env, db=db.name, setting=setting, where=describe_url(url)),
                    hint=_(
                        "Point [verify] url_env at the maintenance database (e.g. postgres) of a server where "
                        "scratch databases may be created; never at a configured source or target."
                    ),
                )
    return url


def url_for(admin_url: str, name: str) -> str:
    """The admin URL with another database name; the password stays where it was."""
    params = conninfo_to_dict(admin_url)
    params["dbname"] = name
    return make_conninfo(**{k: str(v) for k, v in params.items() if v is not None})


def conninfo_without_password(admin_url: str, name: str) -> str:
    params = {k: v for k, v in conninfo_to_dict(admin_url).items() if k != "password" and v is not None}
    params["dbname"] = name
    return make_conninfo(**{k: str(v) for k, v in params.items()})


def _admin(url: str) -> psycopg.Connection[Any]:
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as exc:
        raise PreflightError(
            _("the verification server does not answer"),
            detail=f"{describe_url(url)}: {redact(str(exc).strip(), [url])}",
            hint=_("Check [verify] url_env's server is up and its role may log in and create databases."),
        ) from None


def create(
    admin_url: str,
    book: ScratchBook,
    *,
    purpose: str,
    backup_id: str,
    job_id: int | None = None,
    keep: timedelta = VERIFY_KEEP,
    now: datetime | None = None,
) -> ScratchRecord:
    """Write the record, then create the database; a kill in between leaves only a record."""
    now = now or datetime.now(UTC)
    tag = f"j{job_id}" if job_id else f"p{os.getpid()}"
    rec = ScratchRecord(
        name=f"{SCRATCH_PREFIX}{tag}_{uuid.uuid4().hex[:8]}",
        server=describe_url(admin_url),
        purpose=purpose,
        backup_id=backup_id,
        owner=owner_id(),
        created_at=_iso(now),
        expires_at=_iso(now + keep),
        job_id=job_id,
    )
    book.add(rec)
    try:
        with _admin(admin_url) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(rec.name)))
    except psycopg.Error as exc:
        book.remove(rec.name)
        raise PreflightError(
            _("the verification server refused to create a scratch database"),
            detail=f"{describe_url(admin_url)}: {redact(str(exc).strip(), [admin_url])}",
            hint=_("The [verify] role needs CREATEDB (ALTER ROLE … CREATEDB)."),
        ) from None
    return rec


def drop(admin_url: str, book: ScratchBook, name: str) -> None:
    """Drop the scratch database (closing its sessions) and forget it."""
    if not name.startswith(SCRATCH_PREFIX):
        raise ValueError(f"refusing to drop {name!r}: not a scratch database")
    try:
        with _admin(admin_url) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    except psycopg.Error as exc:
        raise PreflightError(
            _("scratch database {name} could not be dropped").format(name=name),
            detail=f"{describe_url(admin_url)}: {redact(str(exc).strip(), [admin_url])}",
            hint=_("It stays in the book and is dropped on the next start; or drop it by hand."),
        ) from None
    book.remove(name)


def _owner_gone(owner: str) -> bool:
    host, _sep, rest = owner.partition(":")
    pid_text, _sep, token = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False  # another machine's process: only its job's end or the expiry tells
    pid = int(pid_text)
    if pid == os.getpid():
        return token != _PROCESS_TOKEN
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def leftovers(book: ScratchBook, now: datetime | None = None) -> list[ScratchRecord]:
    """Scratch databases nobody will drop: expired, or made by a process or job that is gone."""
    now = now or datetime.now(UTC)
    out = []
    for rec in book.all():
        expired = _parse(rec.expires_at) <= now
        kept = rec.purpose == "restore-table" and rec.status == "ready"
        ended = rec.job_id is not None and not book.job_active(rec.job_id)
        if expired or (not kept and (_owner_gone(rec.owner) or ended)):
            out.append(rec)
    return out


STAGING_PREFIX = "scratch-"  # + "{host}-{pid}-": staged dumps of verify, drill and restore-table


def staging_prefix() -> str:
    """A staged dump's file name prefix, naming the process that writes it (see ``drop_stale_staging``)."""
    return f"{STAGING_PREFIX}{socket.gethostname()}-{os.getpid()}-"


def drop_stale_staging(staging_dir: str) -> list[str]:
    """Delete staged dumps left by killed processes of this host; they can be as big as a dump."""
    gone = []
    here = f"{STAGING_PREFIX}{socket.gethostname()}-"
    for path in Path(staging_dir).glob(f"{here}*.dump") if Path(staging_dir).is_dir() else []:
        pid_text = path.name[len(here) :].split("-", 1)[0]
        if not pid_text.isdigit() or int(pid_text) == os.getpid():
            continue
        if _owner_gone(f"{socket.gethostname()}:{pid_text}:"):
            path.unlink(missing_ok=True)
            gone.append(path.name)
    if gone:
        log.info("deleted %d staged dump(s) left by stopped processes: %s", len(gone), ", ".join(gone))
    return gone


def sweep(cfg: Config, book: ScratchBook, now: datetime | None = None) -> list[str]:
    """Drop the leftovers; returns their names. Unreachable server: logged, tried again next time."""
    from engine.restore_plan import staging_dir

    drop_stale_staging(staging_dir(cfg))
    found = leftovers(book, now)
    if not found:
        return []
    try:
        url = server_url(cfg)
    except ConfigError as err:
        log.warning("%d scratch database(s) wait to be dropped: %s", len(found), err.message)
        return []
    dropped = []
    for rec in found:
        try:
            drop(url, book, rec.name)
            dropped.append(rec.name)
            log.info(
                "dropped scratch database %s (%s of %s, made %s)",
                rec.name,
                rec.purpose,
                rec.backup_id,
                rec.created_at,
            )
        except PreflightError as err:
            log.warning("%s", err.message)
    return dropped
