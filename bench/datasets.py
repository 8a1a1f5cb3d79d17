"""The benchmark databases: pgbench accounts plus one of two kinds of invoice rows.

Both are "pgbench scale N plus an invoice-like table of text rows", and the two kinds differ
where it matters for the comparison with the recipe: how slowly gzip (pg_dump's own
compression, the recipe's bottleneck) goes through them, and how much zstd gains over it.

* ``xml`` (the default): ~1.5 KB signed e-invoices, XML with repeated line items and a
  256-byte base64 signature. gzip is fast on it (pg_dump -Fc ~2x pg_dump -Z0) and zstd
  stores ~0.83x gzip's bytes.
* ``text``: ~330-byte invoices of names, addresses, line items and free-text notes drawn
  from small vocabularies. gzip is slow on it (pg_dump -Fc ~3.5x -Z0, as in the issue's own
  figures: 1.13 GB logical, -Z0 ~4 s) but zstd's fast levels gain nothing over gzip's size.

Each database is built once and kept (``bench_done`` marks a finished build).
"""

from __future__ import annotations

import subprocess
import sys

import psycopg

from tests.support import pg

DATASETS = ("xml", "text")

_XML_INVOICES = """
INSERT INTO invoices
SELECT g, 'Cliente ' || (g %% 5000), round((random() * 5000)::numeric, 2),
       date '2025-01-01' + (g %% 365),
       '<?xml version="1.0" encoding="UTF-8"?><factura><numero>F-' || g || '</numero>'
       || '<emisor><ruc>' || (1000000 + g %% 977) || '</ruc><nombre>Empresa ' || (g %% 311)
       || ' S.A.</nombre></emisor><cliente>Cliente ' || (g %% 5000) || '</cliente>'
       || repeat('<linea><codigo>' || md5((g %% 1000)::text) || '</codigo><cantidad>'
                 || (g %% 17) || '</cantidad><precio>' || round((random() * 100)::numeric, 2)
                 || '</precio></linea>', 8)
       -- every signed e-invoice carries its own RSA-2048 signature: 256 random bytes, base64
       || '<ds:SignatureValue>' || encode(decode(md5(random()::text)
          || md5(random()::text) || md5(random()::text) || md5(random()::text)
          || md5(random()::text) || md5(random()::text) || md5(random()::text)
          || md5(random()::text) || md5(random()::text) || md5(random()::text)
          || md5(random()::text) || md5(random()::text) || md5(random()::text)
          || md5(random()::text) || md5(random()::text) || md5(random()::text), 'hex'), 'base64')
       || '</ds:SignatureValue></factura>'
FROM generate_series(1, %s) g
"""

_TEXT_INVOICES = """
WITH w AS (SELECT
  '{Ana,Luis,Maria,Jose,Carmen,Pedro,Lucia,Diego,Elena,Pablo,Sofia,Javier,Laura,Miguel,Paula,Andres,Rosa,Carlos,Isabel,Jorge}'::text[] AS fn,
  '{Garcia,Rodriguez,Lopez,Martinez,Gonzalez,Perez,Sanchez,Ramirez,Torres,Flores,Rivera,Gomez,Diaz,Cruz,Morales,Reyes,Ortiz,Castillo,Vargas,Romero}'::text[] AS ln,
  '{Avenida Central,Calle Mayor,Jr. Los Olivos,Av. Arequipa,Calle Real,Paseo Colon,Av. Brasil,Calle Lima,Av. Los Heroes,Calle Sol}'::text[] AS st,
  '{Lima,Arequipa,Cusco,Trujillo,Piura,Chiclayo,Iquitos,Tacna,Puno,Huancayo}'::text[] AS city,
  '{cable,router,monitor,teclado,raton,impresora,papel,toner,licencia,soporte,servidor,disco,memoria,bateria,cargador,adaptador,silla,escritorio,lampara,camara}'::text[] AS prod,
  '{negro,blanco,azul,rojo,gris,verde,plata,dorado}'::text[] AS col,
  '{entrega,pendiente,cliente,solicita,factura,pago,transferencia,banco,plazo,dias,descuento,garantia,devolucion,almacen,pedido,urgente,revisar,contacto,oficina,segun,orden,compra,adjunto,credito,nota,envio,recibido,conforme,observacion,servicio}'::text[] AS word
)
INSERT INTO invoices
SELECT g, 'F' || lpad((g %% 999)::text, 3, '0') || '-' || lpad(g::text, 8, '0'),
  fn[1 + (random()*19)::int] || ' ' || ln[1 + (random()*19)::int] || ' ' || ln[1 + (random()*19)::int],
  lower(fn[1 + (random()*19)::int]) || '.' || lower(ln[1 + (random()*19)::int]) || (random()*999)::int
    || '@example.com',
  st[1 + (random()*9)::int] || ' ' || (random()*2999)::int || ', ' || city[1 + (random()*9)::int],
  date '2024-01-01' + (random()*700)::int, round((random()*9000)::numeric, 2),
  (ARRAY['paid','open','overdue','void'])[1 + (random()*3)::int],
  (SELECT string_agg((1 + (random()*9)::int) || ' x ' || prod[1 + (random()*19)::int] || ' '
          || col[1 + (random()*7)::int] || ' @ ' || round((random()*500)::numeric, 2) || left(i::text, 0), '; ')
     FROM generate_series(1, 2 + (g %% 4)) s(i)),
  (SELECT string_agg(word[1 + (random()*29)::int] || left(i::text, 0), ' ')
     FROM generate_series(1, 8 + (g %% 12)) s(i))
FROM w, generate_series(1, %s) g
"""

_TABLES = {
    "xml": "CREATE TABLE invoices (id bigint PRIMARY KEY, customer text NOT NULL, total numeric(12,2), "
    "issued_on date, xml_body text NOT NULL)",
    "text": "CREATE TABLE invoices (id bigint PRIMARY KEY, number text NOT NULL, customer text NOT NULL, "
    "email text NOT NULL, address text NOT NULL, issued_on date NOT NULL, total numeric(12,2) NOT NULL, "
    "status text NOT NULL, lines text NOT NULL, notes text NOT NULL)",
}
_ROWS_PER_SCALE = {"xml": 5000, "text": 18000}  # at scale 70: 0.52 GB and 0.41 GB of invoices
_FILL = {"xml": _XML_INVOICES, "text": _TEXT_INVOICES}


def database_name(scale: int, data: str = "xml") -> str:
    return f"bb_bench2_s{scale}" if data == "xml" else f"bb_bench_{data}_s{scale}"


def build_database(scale: int, data: str = "xml") -> str:
    """pgbench -i -s ``scale`` plus the invoice table of kind ``data``, built once and reused."""
    name = database_name(scale, data)
    url = pg.url_for(name)
    with psycopg.connect(pg.ADMIN_URL, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    if exists:
        with psycopg.connect(url) as conn:
            done = conn.execute("SELECT to_regclass('bench_done') IS NOT NULL").fetchone()
        if done and done[0]:
            return url
        pg.drop_database(name)
    with psycopg.connect(pg.ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    print(f"building {name}: pgbench -i -s {scale} + {data} invoices …", file=sys.stderr)
    subprocess.run(["pgbench", "-i", "-q", "-s", str(scale), url], check=True, capture_output=True)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(_TABLES[data])
        conn.execute(_FILL[data], (scale * _ROWS_PER_SCALE[data],))  # type: ignore[arg-type]
        conn.execute("CREATE TABLE bench_done ()")
        conn.execute("VACUUM ANALYZE")
    return url
