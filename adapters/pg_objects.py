"""Named schema objects on both sides of a clean restore: what the backup has, what the target has.

``pg_restore --clean`` drops and recreates only what the archive contains; every table,
view, function, type, schema or extension that exists only in the target stays. The
request card names those (so a lead approves what really happens), and with
``restore_clean = "exact"`` they are dropped first so the result equals the backup.
Objects are compared by kind, schema and name (functions by name, not signature).
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

OBJECT_KINDS = (
    "MATERIALIZED VIEW",
    "FOREIGN TABLE",
    "TABLE",
    "VIEW",
    "SEQUENCE",
    "FUNCTION",
    "PROCEDURE",
    "AGGREGATE",
    "TYPE",
    "DOMAIN",
    "SCHEMA",
    "EXTENSION",
)
SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "public")


@dataclass(frozen=True, order=True)
class DbObject:
    kind: str
    schema: str  # "" for schemas and extensions
    name: str

    def describe(self) -> str:
        where = f"{self.schema}." if self.schema else ""
        return f"{self.kind.lower()} {where}{self.name}"


def from_toc_line(kind: str, rest: str) -> DbObject | None:
    """``kind`` and the rest of a ``pg_restore --list`` line ("public f(integer, text) owner")."""
    if kind not in OBJECT_KINDS:
        return None
    tokens = rest.strip().split(" ")
    if len(tokens) < 2:
        return None
    schema = "" if tokens[0] == "-" else tokens[0]
    name = tokens[1] if kind in ("EXTENSION", "SCHEMA") or len(tokens) == 2 else " ".join(tokens[1:-1])
    return DbObject(kind, schema, name.split("(", 1)[0])


_TARGET_SQL = """
WITH user_ns AS (
    SELECT oid, nspname FROM pg_namespace
    WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg\\_toast%%'
      AND nspname NOT LIKE 'pg\\_temp%%'
), members AS (SELECT classid, objid FROM pg_depend WHERE deptype = 'e')
SELECT CASE c.relkind WHEN 'r' THEN 'TABLE' WHEN 'p' THEN 'TABLE' WHEN 'f' THEN 'FOREIGN TABLE'
       WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'SEQUENCE' END, n.nspname, c.relname
  FROM pg_class c JOIN user_ns n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p', 'f', 'v', 'm', 'S')
   AND (c.oid, 'pg_class'::regclass) NOT IN (SELECT objid, classid FROM members)
UNION
SELECT CASE p.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE' ELSE 'FUNCTION' END, n.nspname, p.proname
  FROM pg_proc p JOIN user_ns n ON n.oid = p.pronamespace
 WHERE (p.oid, 'pg_proc'::regclass) NOT IN (SELECT objid, classid FROM members)
UNION
SELECT CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, n.nspname, t.typname
  FROM pg_type t JOIN user_ns n ON n.oid = t.typnamespace
 WHERE t.typtype IN ('e', 'd', 'r', 'c', 'm') AND t.typelem = 0
   AND (t.typrelid = 0 OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
   AND NOT (t.typtype = 'm')
   AND (t.oid, 'pg_type'::regclass) NOT IN (SELECT objid, classid FROM members)
UNION
SELECT 'SCHEMA', '', nspname FROM user_ns WHERE nspname <> 'public'
UNION
SELECT 'EXTENSION', '', extname FROM pg_extension WHERE extname <> 'plpgsql'
"""


def target_objects(url: str) -> set[DbObject]:
    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        return {DbObject(str(k), str(s), str(n)) for k, s, n in conn.execute(_TARGET_SQL).fetchall()}


def only_in_target(archive: frozenset[DbObject], target: set[DbObject]) -> list[DbObject]:
    return sorted(target - set(archive))


def partitioned_in_both(url: str, archive: frozenset[DbObject]) -> list[str]:
    """Partitioned tables the target has and the backup replaces: ``--clean`` cannot drop their partitions' keys."""
    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        rows = conn.execute(
            "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.relkind = 'p' ORDER BY 1, 2"
        ).fetchall()
    return [f"{s}.{n}" for s, n in rows if DbObject("TABLE", str(s), str(n)) in archive]


def reset_contents(url: str) -> list[str]:
    """Drop everything the database holds (extensions, schemas, and public's contents); returns what went.

    ``public`` is recreated as a new database has it (owned by pg_database_owner, usable by
    all), because a PostgreSQL 15 dump does not create it. What is left is an empty database
    with its name, owner, settings and grants untouched, ready for a restore that then equals
    the backup exactly, partitioned tables and all.
    """
    gone: list[str] = []
    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn, conn.transaction():
        for (ext,) in conn.execute(
            "SELECT extname FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY 1"
        ).fetchall():
            conn.execute(sql.SQL("DROP EXTENSION IF EXISTS {} CASCADE").format(sql.Identifier(ext)))
            gone.append(f"extension {ext}")
        schemas = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname NOT IN ('pg_catalog', 'information_schema')"
            " AND nspname NOT LIKE 'pg\\_toast%' AND nspname NOT LIKE 'pg\\_temp%' ORDER BY 1"
        ).fetchall()
        for (schema,) in schemas:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
            gone.append(f"schema {schema}")
        conn.execute("CREATE SCHEMA public AUTHORIZATION pg_database_owner")
        conn.execute("GRANT USAGE ON SCHEMA public TO PUBLIC")
        conn.execute("COMMENT ON SCHEMA public IS 'standard public schema'")
    return gone
