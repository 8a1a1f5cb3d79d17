"""Copy the whole state between the SQLite file and PostgreSQL, table by table, ids kept.

A team that started with one process and a SQLite file moves to web + workers without
losing its history (jobs, audit, approvals, alert streaks, schedule claims); and back,
e.g. to inspect the state with ``sqlite3``. Tables are read from the source's own
catalog, so a module's table is copied whether or not this code knows it; the modules
add their indexes again on start (``create_index(..., if_not_exists=True)``). The copy
refuses a destination that already holds rows: two histories must never be mixed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from core.errors import UsageError
from core.i18n import _
from jobs.store import Store

_SKIP = re.compile(r"^(sqlite_|schema_version$)")
_SQLITE_TYPES = {"INTEGER": int, "INT": int, "TEXT": str, "FLOAT": float, "REAL": float, "BLOB": bytes}
_PG_TYPES = {
    "bigint": int,
    "integer": int,
    "smallint": int,
    "text": str,
    "double precision": float,
    "bytea": bytes,
}


@dataclass(frozen=True)
class TableShape:
    name: str
    columns: dict[str, type]
    pks: list[str]
    not_null: set[str]
    defaults: dict[str, Any]
    indexes: list[tuple[str, list[str], bool]]  # name, columns, unique


def _literal(text: str | None) -> Any:
    if text is None:
        return None
    text = re.sub(r"::[\w ]+$", "", text.strip())
    if text.startswith("'") and text.endswith("'"):
        return text[1:-1].replace("''", "'")
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return None


def _shapes(store: Store) -> list[TableShape]:
    if store.backend == "sqlite":
        return [_sqlite_shape(store, name) for name in store.db.table_names() if not _SKIP.match(name)]
    return [_pg_shape(store, name) for name in store.db.table_names() if not _SKIP.match(name)]


def _sqlite_shape(store: Store, name: str) -> TableShape:
    table = store.db[name]
    cols = table.columns  # type: ignore[union-attr]
    defaults = {c.name: _literal(c.default_value) for c in cols if c.default_value is not None}
    indexes = [
        (ix.name, list(ix.columns), bool(ix.unique))
        for ix in table.indexes  # type: ignore[union-attr]
        if not ix.name.startswith("sqlite_autoindex")
    ]
    return TableShape(
        name=name,
        columns={c.name: _SQLITE_TYPES.get(c.type.upper(), str) for c in cols},
        pks=[p for p in table.pks if p != "rowid"],  # type: ignore[union-attr]
        not_null={c.name for c in cols if c.notnull},
        defaults={k: v for k, v in defaults.items() if v is not None},
        indexes=indexes,
    )


def _pg_shape(store: Store, name: str) -> TableShape:
    db: Any = store.db
    rows = db.conn.execute(
        "SELECT column_name, data_type, is_nullable, column_default FROM information_schema.columns "
        "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
        [db.schema, name],
    ).fetchall()
    _ident, pks = db._table_info(name)
    index_rows = db.conn.execute(
        "SELECT c.relname AS name, i.indisunique AS uniq, "
        "array(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY k(n, o) "
        "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n ORDER BY k.o) AS cols "
        "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE i.indrelid = to_regclass(%s) AND NOT i.indisprimary",
        [f'"{db.schema}"."{name}"'],
    ).fetchall()
    return TableShape(
        name=name,
        columns={r["column_name"]: _PG_TYPES.get(r["data_type"], str) for r in rows},
        pks=list(pks),
        not_null={r["column_name"] for r in rows if r["is_nullable"] == "NO"} - set(pks),
        defaults={r["column_name"]: v for r in rows if (v := _literal(r["column_default"])) is not None},
        indexes=[(r["name"], list(r["cols"]), bool(r["uniq"])) for r in index_rows],
    )


def copy_state(source: Store, dest: Store) -> dict[str, int]:
    """Copy every table of ``source`` into ``dest`` (which must hold no rows); rows per table."""
    shapes = _shapes(source)
    have = set(dest.db.table_names())
    busy = [
        s.name
        for s in shapes
        if s.name in have and next(iter(dest.db.query(f'SELECT count(*) AS n FROM "{s.name}"')))["n"]
    ]
    if busy:
        raise UsageError(
            _("the destination state already holds rows ({tables})").format(tables=", ".join(sorted(busy))),
            detail=_(
                "{dest} is not empty; copying into it would mix two histories. Nothing was copied."
            ).format(dest=dest.describe()),
            hint=_("Copy into an empty state (a new database, schema or state directory)."),
        )
    counts: dict[str, int] = {}
    with dest.transaction() as db:
        for shape in shapes:
            if shape.name not in have:
                db[shape.name].create(
                    shape.columns,
                    pk=shape.pks[0] if len(shape.pks) == 1 else (tuple(shape.pks) or None),
                    not_null=shape.not_null,
                    defaults=shape.defaults,
                    if_not_exists=True,
                )
            for ix_name, cols, unique in shape.indexes:
                db[shape.name].create_index(cols, index_name=ix_name, unique=unique, if_not_exists=True)
            order = ", ".join(f'"{c}"' for c in shape.pks) or "1"
            n = 0
            for row in source.db.query(f'SELECT * FROM "{shape.name}" ORDER BY {order}'):
                db[shape.name].insert(dict(row))
                n += 1
            counts[shape.name] = n
        if dest.backend == "postgresql":
            _advance_identities(dest, shapes)
    return counts


def _advance_identities(dest: Store, shapes: list[TableShape]) -> None:
    """Ids were copied as they were; new rows must continue after them."""
    db: Any = dest.db
    for shape in shapes:
        ident, _pks = db._table_info(shape.name)
        if ident:
            db.conn.execute(
                f'SELECT setval(pg_get_serial_sequence(%s, %s), GREATEST((SELECT max("{ident}") FROM "{shape.name}"), 1))',
                [f'"{db.schema}"."{shape.name}"', ident],
            )
