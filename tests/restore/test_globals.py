"""`globals = true`: the roles and memberships go into the bucket beside the backup, and the card says so."""

from __future__ import annotations

import uuid

import psycopg

from adapters.storage import open_storage
from engine import globals_dump
from engine.catalog import delete_backup
from engine.dump import run_dump
from engine.restore_plan import preflight
from tests.engine.conftest import run_cli
from tests.restore.conftest import Scene
from tests.support import pg


def test_roles_are_stored_beside_the_backup_and_named_on_the_card(scene: Scene) -> None:
    role, member = f"bbt_owner_{uuid.uuid4().hex[:6]}", f"bbt_member_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(pg.ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE \"{role}\" NOLOGIN PASSWORD 's3cret-Value'")
        conn.execute(f'CREATE ROLE "{member}" LOGIN IN ROLE "{role}"')
    try:
        pre = preflight(scene.cfg, scene.backup, "staging", state=scene.store())
        assert pre.fields["Backup has roles"].startswith("no: the roles it refers to must already exist")

        text = scene.cfg_path.read_text().replace(
            'restore_url_env = "APP_RESTORE_URL"', 'restore_url_env = "APP_RESTORE_URL"\nglobals = true'
        )
        scene.cfg_path.write_text(text)
        cfg = scene.cfg
        backup = run_dump(cfg, "app", kind="manual", requested_by="U0DEV")
        assert backup.globals_key.endswith(".globals.sql.enc") and backup.globals_note == ""
        storage = open_storage(cfg.storage)
        stored = storage.get_bytes(backup.globals_key)
        assert role.encode() not in stored  # encrypted at rest
        sql = globals_dump.load(cfg, backup, storage).decode()
        assert f"CREATE ROLE {role};" in sql and f"GRANT {role} TO {member}" in sql
        assert "s3cret" not in sql and "SCRAM" not in sql  # never passwords

        pre = preflight(cfg, backup, "staging", state=scene.store())
        assert pre.fields["Backup has roles"] == (
            f"yes: roles and memberships (no passwords) stored beside it ({backup.globals_key})"
        )
        out = run_cli("decrypt", backup.id, "--roles")
        assert out.returncode == 0, out.stderr
        assert f"CREATE ROLE {role};" in out.stdout
        none = run_cli("decrypt", scene.backup.id, "--roles")
        assert none.returncode == 2 and "has no roles stored beside it" in none.stderr
        delete_backup(cfg, backup, storage)
        assert not storage.exists(backup.globals_key)
    finally:
        with psycopg.connect(pg.ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP ROLE IF EXISTS "{member}"')
            conn.execute(f'DROP ROLE IF EXISTS "{role}"')
