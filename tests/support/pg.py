"""Throwaway databases on the local PostgreSQL server, with unique names so runs never collide."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

ADMIN_URL = os.environ.get("BACKUPBOT_TEST_PG", "postgresql://postgres@localhost:5432/postgres")


def url_for(dbname: str) -> str:
    base, _, _ = ADMIN_URL.rpartition("/")
    return f"{base}/{dbname}"


def create_database(prefix: str = "bbt") -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_database(name: str) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def drop_databases_like(prefix: str) -> list[str]:
    """Drop every database whose name starts with ``prefix`` (what a swap restore left: _before_, …)."""
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT datname FROM pg_database WHERE left(datname, length(%s)) = %s", (prefix, prefix)
            )
        ]
        for name in names:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return names


@contextmanager
def temp_database(prefix: str = "bbt") -> Iterator[str]:
    """Yields the URL of a fresh empty database and drops it afterwards."""
    name = create_database(prefix)
    try:
        yield url_for(name)
    finally:
        drop_database(name)
        drop_databases_like(name + "_")  # a swap restore's kept or half-built databases


REALISTIC_SCHEMA = """
CREATE TABLE customers (
    id bigserial PRIMARY KEY,
    name text NOT NULL,
    email text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE invoices (
    id bigserial PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES customers(id),
    number text NOT NULL,
    total numeric(12,2) NOT NULL,
    xml_body text NOT NULL,
    pdf bytea,
    issued_on date NOT NULL
);
CREATE INDEX invoices_customer_idx ON invoices(customer_id, issued_on);
CREATE SEQUENCE invoice_number_seq START 1000;
CREATE TABLE audit_log (id bigserial PRIMARY KEY, event jsonb NOT NULL, at timestamptz DEFAULT now());
CREATE VIEW customer_totals AS
    SELECT c.id, c.name, sum(i.total) AS total FROM customers c JOIN invoices i ON i.customer_id = c.id GROUP BY c.id, c.name;
"""


def fill_realistic(url: str, customers: int = 200, invoices_per_customer: int = 5) -> None:
    """Several tables with text, XML-like text, bytea, an index, a sequence and a view."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(REALISTIC_SCHEMA)
        conn.execute(
            """
            INSERT INTO customers (name, email)
            SELECT 'Customer ' || g || ' ñandú «quoted»', 'c' || g || '@example.com' FROM generate_series(1, %s) g
            """,
            (customers,),
        )
        conn.execute(
            """
            INSERT INTO invoices (customer_id, number, total, xml_body, pdf, issued_on)
            SELECT c.id, 'INV-' || nextval('invoice_number_seq'), (random() * 1000)::numeric(12,2),
                   '<?xml version="1.0"?><factura><cliente id="' || c.id || '">' || c.name
                   || '</cliente><linea>' || repeat(md5(random()::text), 8) || '</linea></factura>',
                   decode(md5(random()::text) || md5(c.id::text), 'hex'),
                   date '2026-01-01' + (g %% 300)
            FROM customers c CROSS JOIN generate_series(1, %s) g
            """,
            (invoices_per_customer,),
        )
        conn.execute(
            "INSERT INTO audit_log (event) SELECT jsonb_build_object('n', g, 'kind', 'seed') FROM generate_series(1, 50) g"
        )


def table_checksums(url: str) -> dict[str, tuple[int, str]]:
    """Per-table row count and an order-independent md5 of every row's text form."""
    out: dict[str, tuple[int, str]] = {}
    with psycopg.connect(url) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) FROM pg_tables "
                "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1"
            )
        ]
        for table in tables:
            row = conn.execute(
                f"SELECT count(*), coalesce(md5(string_agg(md5(t::text), '' ORDER BY md5(t::text))), '') FROM {table} t"
            ).fetchone()
            assert row is not None
            out[table] = (row[0], row[1])
    return out
