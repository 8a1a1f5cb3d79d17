"""With `[slack] locale = "es"`, what on-call reads of the engine is Spanish: `backupbot doctor`
on a broken setup (checks, results and fixes) and the error of a dump that failed.

Real parts: PostgreSQL with a dump role that cannot read a table, a maintenance hook that
does not exist, an old-key variable left empty, a bucket folder, and a pg_dump that dies.
Only the engine's lines are asserted on: the CLI's own framing is translated elsewhere.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

from tests.engine.conftest import fake_pg_dump
from tests.support import pg
from tests.support.i18n import english_words

BIN = Path(sys.executable).parent


def _env(tmp_path: Path, config: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "SLACK_", "BACKUPBOT_"))}
    env.update({"BACKUPBOT_CONFIG": str(config), "BACKUPBOT_STATE_DIR": str(tmp_path / "state"), **extra})
    return env


def _config(tmp_path: Path, body: str) -> Path:
    (tmp_path / "bucket").mkdir(exist_ok=True)
    path = tmp_path / "backupbot.toml"
    path.write_text(
        textwrap.dedent(
            f"""
            [storage]
            url = "{(tmp_path / "bucket").as_uri()}"
            sse = "none"

            [slack]
            locale = "es"
            """
        )
        + textwrap.dedent(body)
    )
    return path


def test_doctor_on_a_broken_setup_speaks_spanish(tmp_path: Path, pg_db: str, backup_key: str) -> None:
    role = f"bb_es_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg.ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
    try:
        with psycopg.connect(pg_db, autocommit=True) as conn:
            conn.execute("CREATE TABLE secretos (id int PRIMARY KEY)")
            conn.execute("REVOKE ALL ON secretos FROM PUBLIC")
        parts = urlsplit(pg_db)  # the same database, as a role that cannot read all of it
        reader = urlunsplit(parts._replace(netloc=f"{role}@{parts.hostname}:{parts.port or 5432}"))
        config = _config(
            tmp_path,
            """
            [encryption]
            old_key_envs = ["BB_ES_OLD_KEY"]

            [databases.app]
            dump_url_env = "APP_DUMP_URL"
            restore_url_env = "APP_RESTORE_URL"
            maintenance_on = ["/nonexistent/maintenance-on"]
            """,
        )
        env = _env(
            tmp_path,
            config,
            {"BACKUPBOT_KEY": backup_key, "APP_DUMP_URL": reader, "APP_RESTORE_URL": pg_db},
        )
        out = subprocess.run(
            [str(BIN / "backupbot"), "doctor"], env=env, capture_output=True, text=True, timeout=120
        )
    finally:
        with psycopg.connect(pg_db, autocommit=True) as conn:
            conn.execute(f'DROP OWNED BY "{role}"')
        with psycopg.connect(pg.ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP ROLE IF EXISTS "{role}"')

    assert out.returncode == 1, out.stdout + out.stderr
    text = out.stdout
    assert "Traceback" not in out.stderr
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines, out.stderr
    for line in lines:
        assert english_words(line) == [], line
    # The failures, each with its fix, in Spanish; the keys of --json stay English (test_doctor.py).
    assert (
        f"FALLO   base de datos app: el rol de volcado puede leerlo todo — {role} no puede leer public.secretos"
        in text
    )
    assert f"solución: `GRANT pg_read_all_data TO {role};`" in text
    assert (
        "FALLO   hooks de app: maintenance_on — /nonexistent/maintenance-on no es un ejecutable del PATH"
        in text
    )
    assert "solución: Instálalo, o corrige `[databases.app] maintenance_on`" in text
    assert (
        "AVISO   claves: clave antigua BB_ES_OLD_KEY — BB_ES_OLD_KEY figura en [encryption] old_key_envs"
        in text
    )
    assert "omitida servidor de verificación: configurado — sin [verify] url_env" in text
    assert "OK      almacenamiento: escribir, releer y borrar un objeto de prueba" in text
    assert lines[-1] == "2 comprobaciones fallaron."


def test_a_failed_dump_says_what_happened_in_spanish(
    tmp_path: Path, realistic_db: str, backup_key: str
) -> None:
    fake_pg_dump(tmp_path / "bin", "sys.stdout.buffer.write(b'PGDMP' * 1000)\nsys.exit(3)\n")
    config = _config(
        tmp_path,
        """
        [databases.app]
        dump_url_env = "APP_DUMP_URL"
        """,
    )
    env = _env(tmp_path, config, {"BACKUPBOT_KEY": backup_key, "APP_DUMP_URL": realistic_db})
    env["PATH"] = f"{tmp_path / 'bin'}{os.pathsep}{env['PATH']}"
    out = subprocess.run(
        [str(BIN / "backupbot"), "dump"], env=env, capture_output=True, text=True, timeout=120
    )

    assert out.returncode != 0 and "Traceback" not in out.stderr, out.stderr
    said = [
        line for line in out.stderr.splitlines() if line.startswith(("ERROR:", "DETALLE:", "SUGERENCIA:"))
    ]
    assert said[0] == "ERROR: pg_dump de la base de datos 'app' salió con el código 3", out.stderr
    assert "DETALLE: pg_dump no escribió nada en stderr." in said
    assert (
        "SUGERENCIA: No se registró nada; la subida parcial se abortó. "
        "Corrige la causa indicada arriba y vuelve a hacer el volcado."
    ) in said
    for line in said:
        assert english_words(line) == [], line
    assert not list((tmp_path / "bucket").rglob("*.manifest.json"))
