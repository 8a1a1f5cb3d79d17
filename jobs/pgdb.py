"""The slice of ``sqlite_utils.Database`` the store's modules use, on a PostgreSQL connection.

Every module that keeps state writes one portable SQL dialect through ``store.db`` and
``store.transaction()``: ``?`` placeholders, ``INSERT … ON CONFLICT`` (or ``INSERT OR
IGNORE``), ``json_extract(col, '$.key')``, and tables declared once with
``db[name].create({...python types...}, pk=..., if_not_exists=True)``. On SQLite that is
sqlite-utils itself; here the same calls are translated, so a module written against the
SQLite store runs unchanged on PostgreSQL: ``?`` becomes ``%s``, ``INSERT OR IGNORE``
becomes ``ON CONFLICT DO NOTHING``, ``[col]`` and the column name ``user`` are quoted,
an insert into a table with an identity column returns its id as ``lastrowid``, Python
booleans become the 0/1 integers SQLite stores.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

import psycopg
from psycopg import sql as pgsql
from sqlite_utils.db import NotFoundError

__all__ = ["PgCursor", "PgDatabase", "PgTable", "translate"]

_TYPES: dict[Any, str] = {
    int: "BIGINT",
    str: "TEXT",
    float: "DOUBLE PRECISION",
    bytes: "BYTEA",
    bool: "INTEGER",
    dict: "TEXT",
    list: "TEXT",
}
_TOKENS = re.compile(r"('(?:[^']|'')*')|(\"[^\"]*\")|([^'\"]+)", re.S)
_INSERT = re.compile(r"^\s*INSERT\s+OR\s+(IGNORE|REPLACE)\s+INTO\s+", re.I)
_INTO = re.compile(r"^\s*INSERT\s+(?:OR\s+\w+\s+)?INTO\s+\"?(\w+)\"?", re.I)
_RESERVED = re.compile(r"(?<![\w\":.])user(?![\w\"])")


def translate(sql: str, named: bool = False) -> tuple[str, str | None]:
    """(PostgreSQL text, 'IGNORE'/'REPLACE' or None) for one portable statement."""
    mode = None
    m = _INSERT.match(sql)
    if m:
        mode = m.group(1).upper()
        sql = sql[: m.start()] + "INSERT INTO " + sql[m.end() :]
    out = []
    for lit, ident, code in _TOKENS.findall(sql):
        if lit:
            out.append(lit.replace("%", "%%"))
        elif ident:
            out.append(ident.replace("%", "%%"))
        else:
            code = code.replace("%", "%%")
            code = re.sub(r"\[(\w+)\]", r'"\1"', code)
            code = _RESERVED.sub('"user"', code)
            if named:
                code = re.sub(r"(?<!:):(\w+)", r"%(\1)s", code)
            else:
                code = code.replace("?", "%s")
            out.append(code)
    return "".join(out), mode


def _param(value: Any) -> Any:
    return int(value) if isinstance(value, bool) else value


class PgCursor:
    """What ``sqlite3.Cursor`` callers read: rows, ``rowcount``, ``lastrowid``."""

    def __init__(self, rows: list[dict[str, Any]], rowcount: int, lastrowid: int | None) -> None:
        self._rows = rows
        self.rowcount = rowcount
        self.lastrowid = lastrowid

    def fetchall(self) -> list[tuple[Any, ...]]:
        return [tuple(r.values()) for r in self._rows]

    def fetchone(self) -> tuple[Any, ...] | None:
        return tuple(self._rows[0].values()) if self._rows else None

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self.fetchall())


class PgDatabase:
    """One thread's connection, spoken to the way the modules speak to sqlite-utils."""

    def __init__(
        self, conn: psycopg.Connection[dict[str, Any]], schema: str, catalog: dict[str, Any]
    ) -> None:
        self.conn = conn
        self.schema = schema
        self._catalog = catalog  # shared per store: table -> (identity column, primary key columns)

    # ------------------------------------------------------------ statements

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> PgCursor:
        named = isinstance(params, Mapping)
        text, mode = translate(sql, named)
        args: Any = (
            {k: _param(v) for k, v in params.items()}  # type: ignore[union-attr]
            if named
            else [_param(v) for v in (params or [])]  # type: ignore[union-attr]
        )
        ident = None
        into = _INTO.match(sql)
        if into and " returning " not in sql.lower():
            table = into.group(1)
            ident, pks = self._table_info(table)
            if mode == "IGNORE":
                text += " ON CONFLICT DO NOTHING"
            elif mode == "REPLACE":
                cols = re.search(
                    r"\(([^)]*)\)", text[: text.upper().find("VALUES")] if "VALUES" in text.upper() else ""
                )
                names = [c.strip().strip('"') for c in cols.group(1).split(",")] if cols else []
                rest = [c for c in names if c not in pks]
                target = ", ".join(f'"{c}"' for c in pks)
                if pks and rest:
                    sets = ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in rest)
                    text += f" ON CONFLICT ({target}) DO UPDATE SET {sets}"
                elif pks:
                    text += f" ON CONFLICT ({target}) DO NOTHING"
            if ident:
                text += f' RETURNING "{ident}"'
        cur = self.conn.execute(text, args)  # type: ignore[arg-type]
        rows: list[dict[str, Any]] = cur.fetchall() if cur.description else []
        lastrowid = rows[0][ident] if ident and rows else None
        return PgCursor(rows if not ident else [], cur.rowcount, lastrowid)

    def query(
        self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]:
        named = isinstance(params, Mapping)
        text, _ = translate(sql, named)
        args: Any = (
            {k: _param(v) for k, v in params.items()}  # type: ignore[union-attr]
            if named
            else [_param(v) for v in (params or [])]  # type: ignore[union-attr]
        )
        cur = self.conn.execute(text, args)  # type: ignore[arg-type]
        return iter(cur.fetchall() if cur.description else [])

    def atomic(self) -> AbstractContextManager[Any]:
        return self.conn.transaction()

    # ---------------------------------------------------------------- tables

    def __getitem__(self, name: str) -> PgTable:
        return PgTable(self, name)

    def table(self, name: str) -> PgTable:
        return PgTable(self, name)

    def table_names(self) -> list[str]:
        rows = self.conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s ORDER BY table_name",
            [self.schema],
        ).fetchall()
        return [r["table_name"] for r in rows]

    def _table_info(self, table: str) -> tuple[str | None, list[str]]:
        info = self._catalog.get(table)
        if info is None:
            reg = f'"{self.schema}"."{table}"'
            ident_rows = self.conn.execute(
                "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attidentity <> ''",
                [reg],
            ).fetchall()
            pk_rows = self.conn.execute(
                "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
                "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = to_regclass(%s) AND i.indisprimary",
                [reg],
            ).fetchall()
            info = (ident_rows[0]["attname"] if ident_rows else None, [r["attname"] for r in pk_rows])
            if pk_rows:  # only remember tables that exist
                self._catalog[table] = info
        return info

    def forget(self, table: str) -> None:
        self._catalog.pop(table, None)


class PgTable:
    """``db[name]``: create, index, insert, upsert, read, as sqlite-utils spells them."""

    def __init__(self, db: PgDatabase, name: str) -> None:
        self.db = db
        self.name = name
        self.last_pk: Any = None
        self.last_rowid: Any = None

    @property
    def _ident(self) -> pgsql.Identifier:
        return pgsql.Identifier(self.name)

    def exists(self) -> bool:
        return self.name in self.db.table_names()

    @property
    def count(self) -> int:
        return int(next(self.db.query(f'SELECT count(*) AS n FROM "{self.name}"'))["n"])

    @property
    def rows(self) -> Iterator[dict[str, Any]]:
        return self.rows_where()

    def rows_where(
        self,
        where: str | None = None,
        where_args: Sequence[Any] | Mapping[str, Any] | None = None,
        order_by: str | None = None,
        limit: int | None = None,
        select: str = "*",
    ) -> Iterator[dict[str, Any]]:
        sql = f'SELECT {select} FROM "{self.name}"'
        if where:
            sql += f" WHERE {where}"
        if order_by:
            sql += f" ORDER BY {order_by}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return self.db.query(sql, where_args)

    @property
    def columns_dict(self) -> dict[str, str]:
        rows = self.db.conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
            [self.db.schema, self.name],
        ).fetchall()
        return {r["column_name"]: r["data_type"] for r in rows}

    def create(
        self,
        columns: Mapping[str, Any],
        pk: str | Sequence[str] | None = None,
        not_null: Iterable[str] | None = None,
        defaults: Mapping[str, Any] | None = None,
        if_not_exists: bool = False,
        **_ignored: Any,
    ) -> PgTable:
        """CREATE TABLE, or (``if_not_exists``) add the columns an older schema lacks."""
        not_null = set(not_null or ())
        defaults = dict(defaults or {})
        pks = [pk] if isinstance(pk, str) else list(pk or [])
        parts = []
        for col, typ in columns.items():
            sqltype = _TYPES.get(typ, "TEXT")
            piece = pgsql.SQL("{} {}").format(pgsql.Identifier(col), pgsql.SQL(sqltype))
            if pks == [col] and typ is int:
                piece = pgsql.SQL("{} BIGINT GENERATED BY DEFAULT AS IDENTITY").format(pgsql.Identifier(col))
            if col in not_null:
                piece = pgsql.SQL("{} NOT NULL").format(piece)
            if col in defaults:
                piece = pgsql.SQL("{} DEFAULT {}").format(piece, pgsql.Literal(_param(defaults[col])))
            parts.append(piece)
        if pks:
            parts.append(
                pgsql.SQL("PRIMARY KEY ({})").format(pgsql.SQL(", ").join(map(pgsql.Identifier, pks)))
            )
        exists = self.exists()
        if exists and not if_not_exists:
            raise psycopg.errors.DuplicateTable(f"table {self.name} already exists")
        if not exists:
            self.db.conn.execute(
                pgsql.SQL("CREATE TABLE IF NOT EXISTS {} ({})").format(
                    self._ident, pgsql.SQL(", ").join(parts)
                )
            )
        else:
            have = self.columns_dict
            for col, typ in columns.items():
                if col not in have:
                    self.add_column(col, typ)
        self.db.forget(self.name)
        return self

    def add_column(self, col: str, typ: Any = str, **_ignored: Any) -> PgTable:
        self.db.conn.execute(
            pgsql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} {}").format(
                self._ident, pgsql.Identifier(col), pgsql.SQL(_TYPES.get(typ, "TEXT"))
            )
        )
        return self

    def create_index(
        self,
        columns: Sequence[str],
        index_name: str | None = None,
        unique: bool = False,
        if_not_exists: bool = False,
        **_ignored: Any,
    ) -> PgTable:
        name = index_name or "idx_{}_{}".format(self.name, "_".join(columns))
        self.db.conn.execute(
            pgsql.SQL("CREATE {}INDEX {}{} ON {} ({})").format(
                pgsql.SQL("UNIQUE " if unique else ""),
                pgsql.SQL("IF NOT EXISTS " if if_not_exists else ""),
                pgsql.Identifier(name),
                self._ident,
                pgsql.SQL(", ").join(map(pgsql.Identifier, columns)),
            )
        )
        return self

    def insert(
        self,
        record: Mapping[str, Any],
        pk: str | Sequence[str] | None = None,
        replace: bool = False,
        ignore: bool = False,
        **_ignored: Any,
    ) -> PgTable:
        return self._write(record, "REPLACE" if replace else "IGNORE" if ignore else None, pk)

    def insert_all(self, records: Iterable[Mapping[str, Any]], **kwargs: Any) -> PgTable:
        for record in records:
            self.insert(record, **kwargs)
        return self

    def upsert(
        self, record: Mapping[str, Any], pk: str | Sequence[str] | None = None, **_ignored: Any
    ) -> PgTable:
        """Insert, or update only the given columns of the row with that key (sqlite-utils' upsert)."""
        return self._write(record, "UPSERT", pk)

    def upsert_all(self, records: Iterable[Mapping[str, Any]], **kwargs: Any) -> PgTable:
        for record in records:
            self.upsert(record, **kwargs)
        return self

    def get(self, pk_value: Any) -> dict[str, Any]:
        _, pks = self.db._table_info(self.name)
        values = pk_value if isinstance(pk_value, list | tuple) else [pk_value]
        where = " AND ".join(f'"{c}" = ?' for c in pks)
        rows = list(self.db.query(f'SELECT * FROM "{self.name}" WHERE {where}', list(values)))
        if not rows:
            raise NotFoundError(pk_value)
        return rows[0]

    def update(self, pk_value: Any, updates: Mapping[str, Any] | None = None, **_ignored: Any) -> PgTable:
        """Set ``updates`` on the row with that key (sqlite-utils' ``update``)."""
        if not updates:
            return self
        _, pks = self.db._table_info(self.name)
        values = list(pk_value) if isinstance(pk_value, list | tuple) else [pk_value]
        sets = ", ".join(f'"{c}" = ?' for c in updates)
        where = " AND ".join(f'"{c}" = ?' for c in pks)
        cur = self.db.execute(f'UPDATE "{self.name}" SET {sets} WHERE {where}', [*updates.values(), *values])
        if cur.rowcount == 0:
            raise NotFoundError(pk_value)
        self.last_pk = pk_value
        return self

    def delete(self, pk_value: Any) -> PgTable:
        _, pks = self.db._table_info(self.name)
        values = list(pk_value) if isinstance(pk_value, list | tuple) else [pk_value]
        where = " AND ".join(f'"{c}" = ?' for c in pks)
        self.db.execute(f'DELETE FROM "{self.name}" WHERE {where}', values)
        return self

    def delete_where(self, where: str | None = None, where_args: Sequence[Any] | None = None) -> PgTable:
        self.db.execute(f'DELETE FROM "{self.name}"' + (f" WHERE {where}" if where else ""), where_args)
        return self

    def _write(self, record: Mapping[str, Any], mode: str | None, pk: str | Sequence[str] | None) -> PgTable:
        ident, pks = self.db._table_info(self.name)
        if pk is not None:
            pks = [pk] if isinstance(pk, str) else list(pk)
        cols = list(record)
        q = pgsql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
            self._ident,
            pgsql.SQL(", ").join(map(pgsql.Identifier, cols)),
            pgsql.SQL(", ").join(pgsql.Placeholder() * len(cols)),
        )
        if mode in ("REPLACE", "UPSERT") and pks:
            rest = [c for c in cols if c not in pks]
            target = pgsql.SQL(", ").join(map(pgsql.Identifier, pks))
            if rest:
                sets = pgsql.SQL(", ").join(
                    pgsql.SQL("{} = EXCLUDED.{}").format(pgsql.Identifier(c), pgsql.Identifier(c))
                    for c in rest
                )
                q = pgsql.SQL("{} ON CONFLICT ({}) DO UPDATE SET {}").format(q, target, sets)
            else:
                q = pgsql.SQL("{} ON CONFLICT ({}) DO NOTHING").format(q, target)
        elif mode == "IGNORE":
            q = pgsql.SQL("{} ON CONFLICT DO NOTHING").format(q)
        returning = [ident] if ident else pks
        if returning:
            q = pgsql.SQL("{} RETURNING {}").format(q, pgsql.SQL(", ").join(map(pgsql.Identifier, returning)))
        cur = self.db.conn.execute(q, [_param(record[c]) for c in cols])
        row = cur.fetchone() if cur.description else None
        if row is not None:
            self.last_pk = row[returning[0]] if len(returning) == 1 else tuple(row[c] for c in returning)
            self.last_rowid = row[ident] if ident else None
        elif pks:
            self.last_pk = record.get(pks[0]) if len(pks) == 1 else tuple(record.get(c) for c in pks)
        return self
