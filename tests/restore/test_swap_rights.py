"""Which method runs is decided by what the restore role may do, and the card says why.

A role that owns the database and may create databases (not a superuser) swaps; one
without CREATEDB restores in place; ``restore_method = "swap"`` without the rights is
refused before anything changes. The restore URL carries a password with ``@ : / %``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import psycopg
import pytest

from adapters import pg_databases
from core.config import load_config
from engine.restore import RestoreRequest, run_restore
from engine.restore_plan import RestoreFailed, preflight
from tests.restore.conftest import Scene
from tests.support import pg

PASSWORD = "p@ss:w/rd%1"
GIVE_TABLES = """
DO $$ DECLARE r record; BEGIN
  FOR r IN SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'S')
             AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i'))
  LOOP
    EXECUTE format('ALTER %s %I OWNER TO %I',
                   CASE r.relkind WHEN 'v' THEN 'VIEW' WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, r.relname, 'ROLE');
  END LOOP;
END $$"""


@pytest.fixture
def restorer(scene: Scene) -> Iterator[str]:
    """A login role that owns the target (and its tables), and the restore URL through it."""
    role = f"bbt_restorer_{uuid.uuid4().hex[:8]}"
    target = pg_databases.dbname_of(scene.target_url)
    with psycopg.connect(pg.ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE \"{role}\" LOGIN CREATEDB PASSWORD '{PASSWORD}'")
        conn.execute(f'ALTER DATABASE "{target}" OWNER TO "{role}"')
    with psycopg.connect(scene.target_url, autocommit=True) as conn:
        conn.execute(GIVE_TABLES.replace("ROLE", role))
    base, _, _ = pg.ADMIN_URL.rpartition("@")
    url = f"postgresql://{role}:{quote(PASSWORD, safe='')}@{pg.ADMIN_URL.rpartition('@')[2].rpartition('/')[0]}/{target}"
    assert base  # the admin URL has a user part
    try:
        yield url
    finally:
        pg.drop_databases_like(target + "_")
        with psycopg.connect(pg.ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{target}" OWNER TO postgres')
        with psycopg.connect(scene.target_url, autocommit=True) as conn:
            conn.execute(f'REASSIGN OWNED BY "{role}" TO postgres')
        with psycopg.connect(pg.ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP ROLE IF EXISTS "{role}"')


def use(scene: Scene, monkeypatch: pytest.MonkeyPatch, url: str, method: str) -> None:
    monkeypatch.setenv("STAGING_RESTORE_URL", url)
    text = re.sub(r'restore_method = "\w+"', f'restore_method = "{method}"', scene.cfg_path.read_text())
    scene.cfg_path.write_text(text)


def test_an_owner_with_createdb_swaps(scene: Scene, restorer: str, monkeypatch: pytest.MonkeyPatch) -> None:
    use(scene, monkeypatch, restorer, "auto")
    cfg = load_config(str(scene.cfg_path))
    pre = preflight(cfg, scene.backup, "staging", state=scene.store())
    assert "may create databases and owns the target" in pre.fields["Restore method"]
    report = run_restore(cfg, RestoreRequest(scene.backup.id, "staging", "U0DEV"), state=scene.store())
    assert report.succeeded, report.state
    assert report.extra["method"] == "swap"
    assert pg.table_checksums(scene.target_url) == pg.table_checksums(scene.source_url)
    assert PASSWORD not in report.runbook_text and quote(PASSWORD, safe="") not in report.runbook_text


def test_without_createdb_auto_restores_in_place_and_swap_is_refused(
    scene: Scene, restorer: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    role = restorer.split("//", 1)[1].split(":", 1)[0]
    with psycopg.connect(pg.ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'ALTER ROLE "{role}" NOCREATEDB')
    use(scene, monkeypatch, restorer, "auto")
    pre = preflight(load_config(str(scene.cfg_path)), scene.backup, "staging", state=scene.store())
    assert pre.fields["Restore method"].startswith(
        f"clean, in place with pg_restore --clean --if-exists (role {role} may not create databases"
    )

    use(scene, monkeypatch, restorer, "swap")
    cfg = load_config(str(scene.cfg_path))
    pre = preflight(cfg, scene.backup, "staging", state=scene.store())
    assert not pre.ok and "cannot swap databases" in pre.blocking[0]
    with pytest.raises(RestoreFailed) as err:
        run_restore(cfg, RestoreRequest(scene.backup.id, "staging", "U0DEV"), state=scene.store())
    assert "step 1 (Lock target)" in err.value.message
    assert pg.table_checksums(scene.target_url) == scene.target_before
