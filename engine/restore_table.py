"""One table out of a backup, into a fresh scratch database a person can look at and copy from.

Why a scratch database and never a configured one: pulling one table back is an inspection
("what did this table hold last night?"), and copying rows back is a decision a person takes
row by row; so the table lands on the verification server, and the reply gives the exact
``psql`` commands to copy rows into the real database by hand. It is kept for
``[verify] scratch_ttl_hours`` and then dropped by the scheduler (``engine.scratch``).

What comes with the table: its data, its sequences (owned by it or used by its defaults,
with their current values), its defaults, primary key, unique constraints and indexes,
and the schema and types it needs. Foreign keys and triggers do not come: they point at
tables that are not restored. The selection follows the dependencies recorded in the
archive's table of contents (``adapters.pg_toc``), not names.
"""

from __future__ import annotations

import re
import shlex
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from adapters import pg_archive, pg_restore, pg_toc
from adapters.storage import Storage, open_storage
from core.config import Config
from core.errors import IntegrityError, NotFoundError, PreflightError, UsageError
from core.i18n import _
from engine import scratch
from engine.decrypt import iter_plain
from engine.manifest import Manifest
from engine.restore_plan import staging_dir

# Entries that belong to the table and come along with it.
_OF_TABLE = {"TABLE DATA", "INDEX", "CONSTRAINT", "CHECK CONSTRAINT", "DEFAULT", "COMMENT"}
# What a table's definition may need that is not a table: followed through the dependencies.
_NEEDED = {"SCHEMA", "TYPE", "DOMAIN", "COLLATION", "EXTENSION", "SHELL TYPE"}


@dataclass(frozen=True)
class TableRestore:
    backup_id: str
    database: str  # the backup's database, whose real table the rows may be copied back into
    table: str  # schema.name
    scratch_db: str
    server: str  # user@host:port/postgres, no password
    conninfo: str  # host=… dbname=<scratch> user=…, no password
    rows: int
    checksum: str  # md5 over the rows' text, order-independent
    expires_at: datetime
    restored: tuple[str, ...]  # what came with it: "INDEX public invoices_customer_idx", …


def find_table(entries: list[pg_toc.TocEntry], wanted: str) -> pg_toc.TocEntry:
    """By ``schema.name`` or a bare name (public first, else the only schema that has it)."""
    tables = [e for e in entries if e.desc == "TABLE"]
    schema, dot, name = wanted.partition(".")
    if dot:
        found = [e for e in tables if (e.schema, e.tag) == (schema, name)]
    else:
        found = [e for e in tables if e.tag == wanted]
        public = [e for e in found if e.schema == "public"]
        found = public or found
    if len(found) == 1:
        return found[0]
    names = sorted(f"{e.schema}.{e.tag}" for e in tables)
    if not found:
        raise NotFoundError(
            _("the backup has no table '{table}'").format(table=wanted),
            detail=_("Tables in it: {tables}.").format(
                tables=", ".join(names[:30]) + (" …" if len(names) > 30 else "")
            ),
            hint=_("Write it as schema.table, e.g. public.invoices."),
        )
    raise UsageError(
        _("'{table}' names a table in several schemas").format(table=wanted),
        detail=", ".join(f"{e.schema}.{e.tag}" for e in found),
        hint=_("Write it as schema.table."),
    )


def select_entries(entries: list[pg_toc.TocEntry], table: pg_toc.TocEntry) -> list[pg_toc.TocEntry]:
    """The table and what it needs, in the archive's (dependency-sorted) order."""
    by_id = {e.dump_id: e for e in entries}
    chosen = {table.dump_id}
    todo = list(table.deps)
    while todo:  # schemas and types the definition needs, and what those need
        dep = by_id.get(todo.pop())
        if dep is not None and dep.desc in _NEEDED and dep.dump_id not in chosen:
            chosen.add(dep.dump_id)
            todo.extend(dep.deps)
    own = [e for e in entries if table.dump_id in e.deps and e.desc in _OF_TABLE]
    chosen.update(e.dump_id for e in own)
    sequences = {
        e.dump_id
        for e in entries
        if e.desc == "SEQUENCE"
        and (table.dump_id in e.deps or any(e.dump_id in d.deps for d in own if d.desc == "DEFAULT"))
    }
    chosen |= sequences
    chosen.update(
        e.dump_id
        for e in entries
        if e.desc in ("SEQUENCE OWNED BY", "SEQUENCE SET") and set(e.deps) & sequences
    )
    for seq in sequences:  # a sequence in another schema needs that schema
        chosen.update(d for d in by_id[seq].deps if by_id.get(d) and by_id[d].desc in _NEEDED)
    return [e for e in entries if e.dump_id in chosen]


def restore_table(
    cfg: Config,
    backup: Manifest,
    table: str,
    book: scratch.ScratchBook,
    *,
    storage: Storage | None = None,
    job_id: int | None = None,
    now: datetime | None = None,
) -> TableRestore:
    """Restore ``table`` of ``backup`` into a new scratch database and keep it for the TTL."""
    storage = storage or open_storage(cfg.storage)
    now = now or datetime.now(UTC)
    admin_url = scratch.server_url(cfg)  # refuses a configured database before anything is read
    scratch.sweep(cfg, book, now)
    where = staging_dir(cfg)
    need = max(backup.dump_bytes, backup.stored_bytes)
    fits, free = pg_restore.staging_room(where, need)
    if not fits:
        raise PreflightError(
            _("not enough room in {where} to read {id}").format(where=where, id=backup.id),
            detail=_("the dump is {need} bytes; {free} are free.").format(need=need, free=free),
            hint=_("Set [runner] staging_dir to a disk with room for the dump."),
        )
    ttl = timedelta(hours=cfg.verify.scratch_ttl_hours)
    with pg_restore.staged(iter_plain(cfg, backup, storage), where, prefix=scratch.staging_prefix()) as path:
        entries = pg_toc.read_toc(path)
        wanted = find_table(entries, table)
        chosen = select_entries(entries, wanted)
        made = scratch.create(
            admin_url, book, purpose="restore-table", backup_id=backup.id, job_id=job_id, keep=ttl, now=now
        )
        try:
            with tempfile.NamedTemporaryFile("w", suffix=".list", dir=where, delete=False) as fh:
                fh.write("".join(f"{e.dump_id}; {e.desc} {e.schema} {e.tag}\n" for e in chosen))
                listing = Path(fh.name)
            try:
                url = scratch.url_for(admin_url, made.name)
                run = pg_archive.restore_into(url, path, use_list=listing)
            finally:
                listing.unlink(missing_ok=True)
            if run.code != 0:
                raise IntegrityError(
                    _("table {table} of {id} did not restore").format(
                        table=f"{wanted.schema}.{wanted.tag}", id=backup.id
                    ),
                    detail=_("pg_restore exited with {code}:").format(code=run.code) + "\n" + run.stderr,
                    hint=_("A type or extension it needs may be missing on the verification server."),
                )
            name = f"{wanted.schema}.{wanted.tag}"
            rows, checksum = pg_archive.table_checksum(url, name)
        except BaseException:
            scratch.drop(admin_url, book, made.name)
            raise
    book.update(made.name, status="ready")
    return TableRestore(
        backup_id=backup.id,
        database=backup.database,
        table=name,
        scratch_db=made.name,
        server=made.server,
        conninfo=scratch.conninfo_without_password(admin_url, made.name),
        rows=rows,
        checksum=checksum,
        expires_at=now + ttl,
        restored=tuple(f"{e.desc} {e.schema} {e.tag}".replace("  ", " ") for e in chosen),
    )


def copy_back_commands(cfg: Config, result: TableRestore) -> list[str]:
    """psql commands that copy the rows into the real database beside the table, then in, by hand.

    Into a side table first, so a person looks before touching the live table; the real
    database's URL is named by its environment variable, never written out.
    """
    db = cfg.databases.get(result.database)
    env = (db.restore_url_env or db.dump_url_env) if db else "DATABASE_URL"
    schema, name = pg_archive.split_name(result.table)
    side = f"{_ident(schema)}.{_ident(name + '_restored')}"
    real = f"{_ident(schema)}.{_ident(name)}"
    csv = re.sub(r"[^A-Za-z0-9_]", "_", name) + ".csv"
    q = shlex.quote
    copy_out = "\\copy " + f"{real} TO {csv} WITH (FORMAT csv)"
    copy_in = "\\copy " + f"{side} FROM {csv} WITH (FORMAT csv)"
    return [
        f"psql {q(result.conninfo)} -c {q(copy_out)}",
        f'psql "${env}" -c {q(f"CREATE TABLE {side} (LIKE {real} INCLUDING DEFAULTS)")}',
        f'psql "${env}" -c {q(copy_in)}',
        f'psql "${env}" -c {q(f"INSERT INTO {real} SELECT * FROM {side} ON CONFLICT DO NOTHING")}',
    ]


def _ident(name: str) -> str:
    """Quote only when needed, the way people type names; a double quote inside is doubled."""
    if name.isidentifier() and name == name.lower():
        return name
    return '"' + name.replace('"', '""') + '"'
