"""The restore's roles step: create the roles a backup needs and the target's server lacks.

A dump refers to roles (owners, grants, policies) but does not contain them; a backup taken
with ``globals = true`` carries the roles and memberships beside it (``globals_dump.py``).
Restoring it onto a server where some of those roles are missing would fail on every
``OWNER TO`` and ``GRANT`` that names them, so before the restore this step creates them,
with their attributes and memberships, in one transaction.

What it never does: alter or drop a role that exists, create a superuser, or create a role
the backup does not refer to (the stored SQL holds every role of the source's server, and
recreating one somebody dropped there on purpose would be a surprise). Which roles the
backup refers to is read from its table of contents (each entry's owner, and the roles
named by its grants, default privileges and policies), plus the groups those roles are
members of and the roles that are members of them. Passwords are never in the backup:
the created roles cannot log in with a password until somebody gives them one, and the
step line and the runbook entry say so.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from adapters.pg_offsets import _Malformed, _Reader, _Truncated, _version
from core.errors import RestoreError
from core.i18n import _, ngettext
from core.redact import redact

IDENT = r'(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)'
_CREATE = re.compile(rf"^CREATE ROLE ({IDENT});$")
_ALTER_WITH = re.compile(
    rf"^ALTER ROLE ({IDENT}) WITH((?: [A-Z]+| CONNECTION LIMIT -?\d+| VALID UNTIL '[^']*')*);$"
)
_ALTER_SET = re.compile(rf"^ALTER ROLE ({IDENT}) SET .+;$")
_COMMENT = re.compile(rf"^COMMENT ON ROLE ({IDENT}) IS '.*';$")
_GRANT = re.compile(rf"^GRANT ({IDENT}) TO ({IDENT})(.*);$")
_NAMED = re.compile(rf"\b(?:TO|FROM|ROLE)\s+((?:{IDENT}\s*,\s*)*{IDENT})")
HEAD_LIMIT = 256 * 1024 * 1024  # a table of contents is far smaller; past this, give up reading it


def unquote(ident: str) -> str:
    return ident[1:-1].replace('""', '"') if ident.startswith('"') else ident


@dataclass
class StoredRole:
    name: str
    superuser: bool = False
    attributes: str = ""  # the ALTER ROLE … WITH line, as pg_dumpall wrote it
    extra: list[str] = field(default_factory=list)  # settings and comment, as written


@dataclass(frozen=True)
class Membership:
    role: str  # the group
    member: str
    admin: bool = False

    def describe(self) -> str:
        return f"{self.member} → {self.role}"


@dataclass(frozen=True)
class StoredGlobals:
    roles: dict[str, StoredRole]
    memberships: tuple[Membership, ...]


def parse(text: str) -> StoredGlobals:
    """The roles and memberships of ``pg_dumpall --globals-only`` output (one statement a line)."""
    roles: dict[str, StoredRole] = {}
    members: list[Membership] = []
    for line in text.splitlines():
        line = line.strip()
        if m := _CREATE.match(line):
            name = unquote(m.group(1))
            roles.setdefault(name, StoredRole(name))
        elif m := _ALTER_WITH.match(line):
            role = roles.setdefault(unquote(m.group(1)), StoredRole(unquote(m.group(1))))
            role.attributes = line
            role.superuser = " SUPERUSER" in f" {m.group(2)} ".replace(" NOSUPERUSER", "")
        elif (m := _ALTER_SET.match(line)) or (m := _COMMENT.match(line)):
            name = unquote(m.group(1))
            if name in roles:
                roles[name].extra.append(line)
        elif m := _GRANT.match(line):
            members.append(
                Membership(unquote(m.group(1)), unquote(m.group(2)), "WITH ADMIN OPTION" in m.group(3))
            )
    return StoredGlobals(roles, tuple(members))


# --------------------------------------------------------------- what the backup refers to


def _toc_roles(buf: bytes) -> set[str]:
    """Owners and the roles named by grants, default privileges and policies in the TOC."""
    r = _Reader(buf)
    version = _version(r)
    if version >= (1, 15, 0):
        r.byte()
    else:
        r.int_()
    for _unused in range(7):
        r.int_()
    for _unused in range(3):
        r.str_()
    count = r.int_()
    if not 0 <= count <= 10_000_000:
        raise _Malformed("TOC count out of range")
    found: set[str] = set()
    for _unused in range(count):
        r.int_()  # dump id
        r.int_()  # had dumper
        r.str_()  # table oid
        r.str_()  # oid
        r.str_()  # tag
        desc = r.str_() or ""
        r.int_()  # section
        defn = r.str_() or ""
        for _field in ("dropStmt", "copyStmt", "namespace", "tablespace", "tableam"):
            r.str_()
        if version >= (1, 16, 0):
            r.int_()
        owner = r.str_() or ""
        r.str_()
        while r.str_() is not None:
            pass
        r.byte()
        r.pos += r.off_size
        if owner:
            found.add(owner)
        if desc in ("ACL", "DEFAULT ACL", "POLICY"):
            for m in _NAMED.finditer(defn):
                found.update(unquote(x.strip()) for x in re.findall(IDENT, m.group(1)))
    return found


def referenced_roles(chunks: Iterable[bytes]) -> set[str] | None:
    """The roles the dump names, read from the start of the plain stream; None if unreadable."""
    buf = bytearray()
    iterator = iter(chunks)
    try:
        for chunk in iterator:
            buf += chunk
            try:
                return _toc_roles(bytes(buf))
            except _Truncated:
                if len(buf) > HEAD_LIMIT:
                    return None
            except _Malformed:
                return None
        try:
            return _toc_roles(bytes(buf))
        except _Malformed:
            return None
    finally:
        close = getattr(iterator, "close", None)
        if close:
            close()


# ------------------------------------------------------------------------------ the plan


@dataclass(frozen=True)
class RolePlan:
    create: tuple[str, ...]  # missing roles to create, no password
    memberships: tuple[Membership, ...]  # granted because one side is created
    superusers: tuple[str, ...]  # missing, but never created: superusers
    needed: int  # how many stored roles the backup refers to (with their groups and members)
    guessed: bool = False  # the table of contents could not be read: every stored role counts

    def line(self) -> str:
        """The card's and the step's words for this plan."""
        if not self.create and not self.superusers:
            return ngettext(
                "none: the {n} role the backup needs exists on the target's server",
                "none: all {n} roles the backup needs exist on the target's server",
                self.needed,
            ).format(n=self.needed)
        parts = []
        if self.create:
            parts.append(
                ngettext(
                    "{n} role, without a password: {names}",
                    "{n} roles, without a password: {names}",
                    len(self.create),
                ).format(n=len(self.create), names=", ".join(self.create))
            )
        if self.memberships:
            parts.append(
                _("memberships: {list}").format(list=", ".join(m.describe() for m in self.memberships))
            )
        if self.superusers:
            parts.append(
                _("not created, superusers on the source: {names}").format(names=", ".join(self.superusers))
            )
        return "; ".join(parts)


def plan(stored: StoredGlobals, referenced: set[str] | None, existing: set[str]) -> RolePlan:
    """Which stored roles to create: those the backup refers to (with groups and members), missing."""
    guessed = referenced is None
    base = set(stored.roles) if referenced is None else {r for r in referenced if r in stored.roles}
    need = set(base)
    need.update(m.member for m in stored.memberships if m.role in base and m.member in stored.roles)
    grown = True
    while grown:  # the groups of everything needed, transitively
        grown = False
        for m in stored.memberships:
            if m.member in need and m.role not in need and m.role in stored.roles:
                need.add(m.role)
                grown = True
    missing = sorted(need - existing)
    create = tuple(n for n in missing if not stored.roles[n].superuser)
    superusers = tuple(n for n in missing if stored.roles[n].superuser)
    after = existing | set(create)
    grants = tuple(
        m
        for m in stored.memberships
        if (m.role in create or m.member in create) and m.role in after and m.member in after
    )
    return RolePlan(create, grants, superusers, len(need), guessed)


def existing_roles(url: str) -> set[str]:
    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        return {str(r[0]) for r in conn.execute("SELECT rolname FROM pg_roles").fetchall()}


def create(url: str, stored: StoredGlobals, chosen: RolePlan, secrets: list[str]) -> None:
    """Create ``chosen.create`` and grant ``chosen.memberships`` in one transaction: all or nothing."""
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn, conn.transaction():
            for name in chosen.create:
                role = stored.roles[name]
                conn.execute(sql.SQL("CREATE ROLE {}").format(sql.Identifier(name)))
                for statement in ([role.attributes] if role.attributes else []) + role.extra:
                    conn.execute(statement.encode())  # the stored SQL, authenticated with the backup
            for m in chosen.memberships:
                grant = sql.SQL("GRANT {} TO {}").format(sql.Identifier(m.role), sql.Identifier(m.member))
                conn.execute(grant + sql.SQL(" WITH ADMIN OPTION") if m.admin else grant)
    except psycopg.Error as exc:
        raise RestoreError(
            _("the missing roles could not be created on the target's server; none was created"),
            detail=redact(str(exc).strip(), secrets)[:1000],
            hint=_(
                "Give the restore role CREATEROLE, or create the roles by hand (`backupbot decrypt ID --roles` "
                "prints their SQL), then request the restore again."
            ),
        ) from None
