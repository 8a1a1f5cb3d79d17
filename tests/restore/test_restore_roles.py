"""A backup with its roles (globals = true) restored where some of them are missing.

The roles are cluster-wide, so each test uses role names of its own and drops them at
the end; what a user checks: the missing roles exist afterwards with their memberships,
the restored objects have the right owner and grants, the card said which roles would be
created, the step and the runbook entry say they have no password, and a role that
already existed is exactly as it was.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest

from adapters import pg_databases
from adapters.storage import open_storage
from engine.dump import run_dump
from engine.restore import RestoreRequest, run_restore
from engine.restore_plan import RestoreFailed, preflight
from tests.restore.conftest import Scene
from tests.support import pg


@dataclass
class Roles:
    owner: str  # owns a table of the backup
    reader: str  # granted SELECT on a table
    member: str  # a login role, member of the owner role
    keeper: str  # granted SELECT too, but exists on the target's server: never touched

    @property
    def dropped(self) -> list[str]:
        return [self.member, self.reader, self.owner]


def _admin() -> psycopg.Connection:
    return psycopg.connect(pg.ADMIN_URL, autocommit=True)


def _forget(urls: list[str], names: list[str]) -> None:
    """Drop the roles: first what they own or were granted in each database, then the roles."""
    with _admin() as conn:
        present = {
            r[0] for r in conn.execute("SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)", (names,))
        }
    for url in urls:
        try:
            with psycopg.connect(url, autocommit=True) as conn:
                for name in names:
                    if name in present:
                        conn.execute(f'REASSIGN OWNED BY "{name}" TO CURRENT_USER')
                        conn.execute(f'DROP OWNED BY "{name}"')
        except psycopg.OperationalError:
            pass  # that database is gone already
    with _admin() as conn:
        for name in names:
            conn.execute(f'DROP ROLE IF EXISTS "{name}"')


@pytest.fixture
def roles(scene: Scene) -> Iterator[Roles]:
    tag = uuid.uuid4().hex[:8]
    made = Roles(f"bbt_rown_{tag}", f"bbt_rread_{tag}", f"bbt_rmem_{tag}", f"bbt_rkeep_{tag}")
    with _admin() as conn:
        conn.execute(f'CREATE ROLE "{made.owner}" NOLOGIN CONNECTION LIMIT 4')
        conn.execute(f"COMMENT ON ROLE \"{made.owner}\" IS 'owns the app''s tables'")
        conn.execute(f'CREATE ROLE "{made.reader}" NOLOGIN')
        conn.execute(f'CREATE ROLE "{made.member}" LOGIN IN ROLE "{made.owner}"')
        conn.execute(f'CREATE ROLE "{made.keeper}" NOLOGIN CONNECTION LIMIT 3')
    with psycopg.connect(scene.source_url, autocommit=True) as conn:
        conn.execute(f'ALTER TABLE customers OWNER TO "{made.owner}"')
        conn.execute(f'GRANT SELECT ON invoices TO "{made.reader}"')
        conn.execute(f'GRANT SELECT, UPDATE ON invoices TO "{made.keeper}"')
    try:
        yield made
    finally:
        pg.drop_databases_like(pg_databases.dbname_of(scene.target_url) + "_")  # what a swap kept
        _forget([scene.source_url, scene.target_url], [made.member, made.reader, made.owner, made.keeper])


def _with_globals(scene: Scene, method: str = "clean") -> None:
    text = scene.cfg_path.read_text().replace('restore_method = "clean"', f'restore_method = "{method}"')
    text = text.replace(
        'restore_url_env = "APP_RESTORE_URL"', 'restore_url_env = "APP_RESTORE_URL"\nglobals = true'
    )
    text = text.replace("hook_timeout_seconds = 60", 'hook_timeout_seconds = 60\nrestore_owner = "keep"')
    scene.cfg_path.write_text(text)


def _role(name: str) -> dict[str, object] | None:
    with _admin() as conn:
        row = conn.execute(
            "SELECT rolcanlogin, rolconnlimit, rolpassword IS NULL, shobj_description(oid, 'pg_authid')"
            " FROM pg_authid WHERE rolname = %s",
            (name,),
        ).fetchone()
    if row is None:
        return None
    return {"login": row[0], "limit": row[1], "no_password": row[2], "comment": row[3]}


@pytest.mark.parametrize("method", ["clean", "swap"])
def test_missing_roles_are_created_first_and_existing_ones_left_alone(
    scene: Scene, roles: Roles, method: str
) -> None:
    _with_globals(scene, method)
    cfg, store = scene.cfg, scene.store()
    backup = run_dump(cfg, "app", kind="manual", requested_by="U0DEV")
    assert backup.globals_key

    # The target's server loses three of the roles; the fourth exists and was changed since the backup.
    _forget([scene.source_url], roles.dropped)
    with _admin() as conn:
        conn.execute(f'ALTER ROLE "{roles.keeper}" CONNECTION LIMIT 7')
    assert all(_role(r) is None for r in roles.dropped)

    pre = preflight(cfg, backup, "staging", state=store)
    card = pre.fields["Roles to create"]
    assert card.startswith("3 roles, without a password: ")
    assert all(r in card for r in roles.dropped) and roles.keeper not in card.split(";")[0]
    assert f"memberships: {roles.member} → {roles.owner}" in card
    assert "existing roles are not changed" in card

    report = run_restore(cfg, _request(backup.id), state=store)
    assert report.succeeded and report.extra["method"] == method
    assert [s.key for s in report.steps][3:5] == ["roles", "restore"]
    step = report.step("roles")
    assert step.status == "ok" and step.title == "Create missing roles"
    assert "created 3 roles, without a password" in step.detail
    assert "ALTER ROLE name PASSWORD" in step.detail

    owner, member, reader = _role(roles.owner), _role(roles.member), _role(roles.reader)
    assert owner == {"login": False, "limit": 4, "no_password": True, "comment": "owns the app's tables"}
    assert member is not None and member["login"] is True and member["no_password"] is True
    assert reader is not None and reader["login"] is False
    assert _role(roles.keeper) == {"login": False, "limit": 7, "no_password": True, "comment": None}
    with psycopg.connect(scene.target_url, autocommit=True) as conn:
        assert conn.execute(
            "SELECT pg_has_role(%s, %s, 'MEMBER')", (roles.member, roles.owner)
        ).fetchone() == (True,)
        assert conn.execute(
            "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'public.customers'::regclass"
        ).fetchone() == (roles.owner,)
        assert conn.execute(
            "SELECT has_table_privilege(%s, 'public.invoices', 'SELECT')", (roles.reader,)
        ).fetchone() == (True,)
        assert conn.execute(
            "SELECT has_table_privilege(%s, 'public.invoices', 'UPDATE')", (roles.keeper,)
        ).fetchone() == (True,)
        assert conn.execute(
            "SELECT has_table_privilege(%s, 'public.invoices', 'UPDATE')", (roles.reader,)
        ).fetchone() == (False,)
    assert pg.table_checksums(scene.target_url) == pg.table_checksums(scene.source_url)

    entry = open_storage(cfg.storage).get_bytes(report.runbook_key).decode()
    assert "- Roles created (without a password: a backup never holds passwords): " in entry
    assert all(r in entry for r in roles.dropped) and "ALTER ROLE name PASSWORD" in entry

    # Restored again: every role is there now, so nothing is created and the card says so.
    pre = preflight(cfg, backup, "staging", state=store)
    assert pre.fields["Roles to create"].startswith("none: all ")
    again = run_restore(cfg, _request(backup.id), state=store)
    assert again.step("roles").detail.startswith("none: all ")
    assert "Roles created" not in again.runbook_text
    assert _role(roles.keeper) == {"login": False, "limit": 7, "no_password": True, "comment": None}


def _request(backup_id: str) -> RestoreRequest:
    return RestoreRequest(backup_id, "staging", "U0DEV", ("U0LEAD1",), "roles test")


def test_a_backup_without_roles_has_no_roles_step(scene: Scene) -> None:
    report = run_restore(scene.cfg, _request(scene.backup.id), state=scene.store())
    assert "roles" not in [s.key for s in report.steps] and report.steps[-1].total == 8


def test_without_the_right_to_create_roles_nothing_is_created_and_the_target_is_unchanged(
    scene: Scene, roles: Roles, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The roles step runs in one transaction: a restore role without CREATEROLE creates none, restores nothing."""
    _with_globals(scene)
    backup = run_dump(scene.cfg, "app", kind="manual", requested_by="U0DEV")
    _forget([scene.source_url], roles.dropped)
    limited = f"bbt_rlim_{uuid.uuid4().hex[:8]}"
    target_db = pg_databases.dbname_of(scene.target_url)
    with _admin() as conn:
        conn.execute(f"CREATE ROLE \"{limited}\" LOGIN PASSWORD 'limited-pw'")
        conn.execute(f'ALTER DATABASE "{target_db}" OWNER TO "{limited}"')
    with psycopg.connect(scene.target_url, autocommit=True) as conn:
        for (name,) in conn.execute(
            "SELECT quote_ident(c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'S')"
            " AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i'))"
        ).fetchall():
            conn.execute(f'ALTER TABLE {name} OWNER TO "{limited}"')
    host = pg.ADMIN_URL.rpartition("@")[2].rpartition("/")[0]
    monkeypatch.setenv("STAGING_RESTORE_URL", f"postgresql://{limited}:limited-pw@{host}/{target_db}")
    try:
        with pytest.raises(RestoreFailed) as err:
            run_restore(scene.cfg, _request(backup.id), state=scene.store())
        text = err.value.render()
        assert "stopped at step 4 (Create missing roles)" in text
        assert "the missing roles could not be created on the target's server; none was created" in text
        assert "CREATEROLE" in text and "backupbot decrypt ID --roles" in text
        assert (
            "unchanged (the missing roles were not created, nothing was restored), still in maintenance"
            in text
        )
        assert "take the app out of maintenance" in (err.value.hint or "")
        assert all(_role(r) is None for r in roles.dropped)
        assert pg.table_checksums(scene.target_url) == scene.target_before
        assert scene.hook_calls() == ["maint-on"]
    finally:
        with _admin() as conn:
            conn.execute(f'ALTER DATABASE "{target_db}" OWNER TO CURRENT_USER')
        _forget([scene.target_url], [limited])


def test_the_finished_restore_job_names_the_roles_it_created(scene: Scene, roles: Roles) -> None:
    """What the channel reads when the job ends: which roles now exist, and that they have no password."""
    from commands.base import Invocation
    from commands.grammar import dispatch
    from jobs.context import JobContext
    from jobs.events import NullReporter
    from jobs.kinds import restore as restore_kind
    from jobs.status import JobStatus

    _with_globals(scene, "clean")
    cfg, store = scene.cfg, scene.store()
    backup = run_dump(cfg, "app", kind="manual", requested_by="U0DEV")
    _forget([scene.source_url], roles.dropped)

    def typed(user: str, text: str) -> str:
        reply = dispatch(text, Invocation(user=user, channel="C1", cfg=cfg, store=store))
        return (reply.later() if reply.later else reply).text  # type: ignore[union-attr]

    assert "posted" in typed("U0DEV", f'restore {backup.id} --target staging --reason "roles"')
    [job] = store.list_jobs(statuses=[JobStatus.AWAITING_APPROVAL])
    typed("U0LEAD1", f"approve {job.id}")
    typed("U0LEAD2", f"approve {job.id}")
    outcome = restore_kind.run(
        JobContext(cfg=cfg, store=store, job=store.get_job(job.id), reporter=NullReporter())
    )
    created = dict(outcome.fields)["Roles created"]
    assert all(f"`{r}`" in created for r in roles.dropped) and "no password" in created
    assert sorted(outcome.data["roles_created"]) == sorted(roles.dropped)
