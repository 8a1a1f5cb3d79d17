"""Swap restores on a partitioned database restored over an existing copy of itself.

The backup is built into a new database and renamed into place; these tests check what
a user would: the rows and the schema equal the backup, what only the target had is in
the kept previous database, settings and grants survive, undo brings back every write,
the kept database goes after its time, and every failure leaves the target serving.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from adapters import pg_databases
from core.config import Config, load_config
from engine import restore_swap
from engine.dump import run_dump
from engine.manifest import Manifest
from engine.restore import RestoreRequest, StepRecord, run_restore
from engine.restore_plan import RestoreFailed, preflight
from jobs.events import NullReporter, StepResult
from jobs.status import JobStatus
from jobs.store import Job, Store
from tests.restore.conftest import write_restore_config
from tests.support import pg
from tests.support.s3server import S3Server

PARTITIONED = """
CREATE TABLE accounts (id serial PRIMARY KEY, name text UNIQUE NOT NULL);
CREATE TABLE events (
    id bigint NOT NULL, at date NOT NULL, account_id int REFERENCES accounts(id), payload text,
    PRIMARY KEY (id, at)
) PARTITION BY RANGE (at);
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE TABLE events_2027 PARTITION OF events FOR VALUES FROM ('2027-01-01') TO ('2028-01-01');
CREATE TABLE events_default PARTITION OF events DEFAULT;
CREATE INDEX events_account_idx ON events (account_id, at);
CREATE VIEW account_events AS SELECT a.name, count(*) AS n FROM accounts a JOIN events e ON e.account_id = a.id GROUP BY a.name;
"""


def fill(url: str, accounts: int, events: int, seed: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(PARTITIONED)
        conn.execute(
            "INSERT INTO accounts (name) SELECT %s || g FROM generate_series(1, %s) g", (seed, accounts)
        )
        conn.execute(
            "INSERT INTO events SELECT g, date '2024-06-01' + (g %% 1500), 1 + g %% %s, md5(%s || g)"
            " FROM generate_series(1, %s) g",
            (accounts, seed, events),
        )


def schema(url: str) -> str:
    out = subprocess.run(
        ["pg_dump", "--schema-only", "--no-owner", f"--dbname={url}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return "\n".join(line for line in out.splitlines() if not line.startswith(("\\restrict", "\\unrestrict")))


@dataclass
class SwapScene:
    tmp: Path
    cfg_path: Path
    source_url: str
    target_url: str
    target_db: str
    role: str
    backup: Manifest

    @property
    def cfg(self) -> Config:
        return load_config(str(self.cfg_path))

    def store(self) -> Store:
        return Store.for_config(self.cfg)

    def request(self) -> RestoreRequest:
        return RestoreRequest(self.backup.id, "staging", "U0DEV", ("U0LEAD1",), "swap test")

    def admin(self) -> psycopg.Connection:
        return psycopg.connect(pg.ADMIN_URL, autocommit=True)

    def about(self, name: str | None = None) -> dict[str, object]:
        with self.admin() as conn:
            about = pg_databases.describe_database(conn, name or self.target_db)
        return about

    def databases(self) -> set[str]:
        with self.admin() as conn:
            rows = conn.execute(
                "SELECT datname FROM pg_database WHERE left(datname, length(%s)) = %s",
                (self.target_db, self.target_db),
            ).fetchall()
        return {r[0] for r in rows}


def set_options(scene: SwapScene, *lines: str) -> None:
    text = scene.cfg_path.read_text()
    scene.cfg_path.write_text(
        text.replace("hook_timeout_seconds = 60", "\n".join(("hook_timeout_seconds = 60", *lines)), 1)
    )


@pytest.fixture
def swap_scene(
    tmp_path: Path, s3_server: S3Server, s3_bucket: str, backup_key: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SwapScene]:
    role = f"bbt_app_{uuid.uuid4().hex[:8]}"
    with pg.temp_database("bbpsrc") as source, pg.temp_database("bbptgt") as target:
        target_db = pg_databases.dbname_of(target)
        with psycopg.connect(pg.ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE ROLE "{role}" NOLOGIN')
            conn.execute(f"ALTER DATABASE \"{target_db}\" SET work_mem = '7MB'")
            conn.execute(f'ALTER DATABASE "{target_db}" SET search_path = public, "$user"')
            conn.execute(f'ALTER ROLE "{role}" IN DATABASE "{target_db}" SET statement_timeout = \'5s\'')
            conn.execute(f'REVOKE ALL ON DATABASE "{target_db}" FROM PUBLIC')
            conn.execute(f'GRANT CONNECT, TEMPORARY ON DATABASE "{target_db}" TO "{role}"')
            conn.execute(f"COMMENT ON DATABASE \"{target_db}\" IS 'the invoicing app''s database'")
        try:
            fill(source, accounts=20, events=3000, seed="src")
            fill(target, accounts=15, events=2000, seed="tgt")  # an existing copy, other rows
            with psycopg.connect(target, autocommit=True) as conn:
                # Only in the target: a table with a foreign key into the backup's tables, a view on them.
                conn.execute(
                    "CREATE TABLE only_here (id int PRIMARY KEY, account_id int REFERENCES accounts(id))"
                )
                conn.execute("INSERT INTO only_here VALUES (1, 1)")
                conn.execute("CREATE VIEW only_view AS SELECT id, at FROM events WHERE at > '2026-01-01'")
            path = write_restore_config(
                tmp_path, s3_bucket, s3_server.endpoint_url, source, target, monkeypatch, method="auto"
            )
            text = path.read_text().replace(
                'health_checks = ["select count(*) > 0 from customers", "select 1 from invoices limit 1"]',
                'health_checks = ["select count(*) > 0 from events_default", "select 1 from accounts limit 1"]',
            )
            path.write_text(text)
            backup = run_dump(load_config(str(path)), "app", kind="manual", requested_by="U0DEV")
            yield SwapScene(tmp_path, path, source, target, target_db, role, backup)
        finally:
            pg.drop_databases_like(target_db + "_")
    with psycopg.connect(pg.ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP ROLE IF EXISTS "{role}"')


@pytest.mark.parametrize("mode", ["staged", "streamed"])
def test_swap_equals_the_backup_keeps_the_previous_and_undo_brings_it_back(
    swap_scene: SwapScene, mode: str
) -> None:
    scene = swap_scene
    set_options(scene, f'restore_mode = "{mode}"')
    cfg, store = scene.cfg, scene.store()
    pre = preflight(cfg, scene.backup, "staging", state=store)
    assert pre.fields["Restore method"].startswith("swap")
    settings_before = scene.about()
    snapshot: dict[str, object] = {}

    def on_step(rec: StepRecord) -> None:
        if rec.key == "restore" and rec.status == "running":
            with psycopg.connect(scene.target_url, autocommit=True) as conn:  # a write after the safety dump
                conn.execute("INSERT INTO accounts (name) VALUES ('written during the restore')")
        if rec.key == "switch" and rec.status == "running":
            snapshot["rows"] = pg.table_checksums(scene.target_url)
            snapshot["schema"] = schema(scene.target_url)

    report = run_restore(cfg, scene.request(), state=store, on_step=on_step)
    assert report.succeeded, report.state
    assert ("overlapped" in report.mode) == (mode == "staged"), report.mode
    assert [s.key for s in report.steps] == [k for k, _ in restore_swap.SWAP_STEPS]
    assert pg.table_checksums(scene.target_url) == pg.table_checksums(scene.source_url)
    assert schema(scene.target_url) == schema(scene.source_url)
    previous = report.extra["previous_db"]
    assert previous == f"{scene.target_db}_before_{report.restore_id.split('-')[1].lower()}"
    prev_url = pg.url_for(previous)
    with psycopg.connect(prev_url) as conn:
        assert conn.execute("SELECT count(*) FROM only_here").fetchone() == (1,)
        assert conn.execute("SELECT count(*) FROM accounts WHERE name LIKE 'written%'").fetchone() == (1,)
    with psycopg.connect(scene.target_url) as conn:
        assert conn.execute("SELECT to_regclass('only_here'), to_regclass('only_view')").fetchone() == (
            None,
            None,
        )
    after = scene.about()
    for key in ("owner", "settings", "grants", "comment", "default_grants", "connection_limit"):
        assert after[key] == settings_before[key], key
    assert "the replaced database is kept as" in report.step("switch").detail
    assert restore_swap.undo_command(report.restore_id) in report.runbook_text

    # Not yet: the previous database stays for keep_previous_hours.
    assert restore_swap.drop_expired(cfg, store, datetime.now(UTC) + timedelta(hours=23)) == []
    message = restore_swap.undo(cfg, store, report.restore_id)
    assert "is back as it was before" in message
    assert pg.table_checksums(scene.target_url) == snapshot["rows"]
    assert schema(scene.target_url) == snapshot["schema"]
    assert scene.about()["settings"] == settings_before["settings"]

    # After its time, the undone (restored) database is dropped with a message.
    gone = restore_swap.drop_expired(cfg, store, datetime.now(UTC) + timedelta(hours=25))
    assert len(gone) == 1 and "was dropped after 24 h" in gone[0].message
    assert scene.databases() == {scene.target_db}


class Thread(NullReporter):
    """What the scheduler posts into job threads."""

    def __init__(self) -> None:
        self.lines: list[tuple[int, StepResult]] = []

    def step(self, job: Job, step: StepResult) -> None:
        self.lines.append((job.id, step))


def test_previous_database_is_dropped_after_its_time_with_a_message(swap_scene: SwapScene) -> None:
    from jobs.scheduler import Scheduler

    scene = swap_scene
    set_options(scene, "keep_previous_hours = 2")
    store = scene.store()
    job = store.create_job("restore", "staging", {"backup_id": scene.backup.id})
    req = RestoreRequest(scene.backup.id, "staging", "U0DEV", ("U0LEAD1",), "swap test", job_id=job.id)
    report = run_restore(scene.cfg, req, state=store)
    previous = report.extra["previous_db"]
    assert previous in scene.databases()
    thread = Thread()
    scheduler = Scheduler(scene.cfg, store, thread, entries=[])
    assert scheduler.drop_kept_databases(datetime.now(UTC) + timedelta(hours=1)) == 0
    assert previous in scene.databases()
    assert scheduler.drop_kept_databases(datetime.now(UTC) + timedelta(hours=3)) == 1
    assert scene.databases() == {scene.target_db}
    [(job_id, line)] = thread.lines
    assert job_id == job.id and line.name == "Kept database dropped"
    assert (
        f"{previous} (the database it replaced in restore {report.restore_id}) was dropped after 2 h"
        in line.detail
    )
    assert f"The safety dump {report.safety_id} still holds it." in line.detail
    assert scheduler.drop_kept_databases(datetime.now(UTC) + timedelta(hours=4)) == 0  # once
    with pytest.raises(Exception, match="cannot be undone by a swap"):
        restore_swap.undo(scene.cfg, store, report.restore_id)


def _assert_unchanged(scene: SwapScene, before: dict[str, tuple[int, str]], err: RestoreFailed) -> None:
    assert pg.table_checksums(scene.target_url) == before
    assert "unchanged, serving under its name" in err.render()
    assert scene.databases() == {scene.target_db}  # the half-built database was dropped
    with psycopg.connect(scene.target_url) as conn:  # and the target accepts connections
        assert conn.execute("SELECT count(*) FROM only_here").fetchone() == (1,)


@pytest.mark.parametrize("mode", ["staged", "streamed"])
def test_failed_restore_into_the_new_database_leaves_the_target(
    swap_scene: SwapScene, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    scene = swap_scene
    set_options(scene, f'restore_mode = "{mode}"')
    with psycopg.connect(scene.source_url, autocommit=True) as conn:  # a table whose owner will be gone
        conn.execute(f'CREATE ROLE "{scene.role}_gone"')
        conn.execute(
            f'CREATE TABLE owned_elsewhere (id int); ALTER TABLE owned_elsewhere OWNER TO "{scene.role}_gone"'
        )
    backup = run_dump(scene.cfg, "app", kind="manual", requested_by="U0DEV")
    with psycopg.connect(scene.source_url, autocommit=True) as conn:
        conn.execute(f'DROP TABLE owned_elsewhere; DROP ROLE "{scene.role}_gone"')
    set_options(scene, 'restore_owner = "keep"')
    before = pg.table_checksums(scene.target_url)
    assert scene.cfg.database("staging").restore_mode == mode
    req = RestoreRequest(backup.id, "staging", "U0DEV", ("U0LEAD1",), "swap test")
    with pytest.raises(RestoreFailed) as err:
        run_restore(scene.cfg, req, state=scene.store())
    assert "step 4 (Restore into a new database)" in err.value.message
    _assert_unchanged(scene, before, err.value)
    assert "still in maintenance" in err.value.render()


@pytest.mark.parametrize("hook", ["MAINT_ON", "MIGRATE"])
def test_failed_hook_leaves_the_target(
    swap_scene: SwapScene, monkeypatch: pytest.MonkeyPatch, hook: str
) -> None:
    scene = swap_scene
    monkeypatch.setenv(f"HOOK_FAIL_{hook}", "4")
    before = pg.table_checksums(scene.target_url)
    with pytest.raises(RestoreFailed) as err:
        run_restore(scene.cfg, scene.request(), state=scene.store())
    _assert_unchanged(scene, before, err.value)
    assert "request the restore again" in (err.value.hint or "")


def test_failed_rename_rolls_back_and_the_target_serves(swap_scene: SwapScene) -> None:
    """A session on the new database makes the second rename fail inside the switch's transaction."""
    scene = swap_scene
    before = pg.table_checksums(scene.target_url)
    held: list[psycopg.Connection] = []

    def on_step(rec: StepRecord) -> None:
        if rec.key == "switch" and rec.status == "running":
            new = restore_swap.records(store)[rec_id()]["new"]
            held.append(psycopg.connect(pg.url_for(new), autocommit=True))

    store = scene.store()

    def rec_id() -> str:
        return next(iter(restore_swap.records(store)))

    with pytest.raises(RestoreFailed) as err:
        run_restore(scene.cfg, scene.request(), state=store, on_step=on_step)
    assert held, "the switch step never started"
    assert "step 7 (Switch databases)" in err.value.message
    assert "being accessed by other users" in err.value.render()
    _assert_unchanged(scene, before, err.value)
    assert scene.about()["settings"]


def test_killed_worker_mid_swap_is_recovered_on_restart(swap_scene: SwapScene) -> None:
    """The process dies while building the new database; the runner's restart drops it, not the target."""
    from jobs.events import NullReporter
    from jobs.runner import Runner

    scene = swap_scene
    before = pg.table_checksums(scene.target_url)
    store = scene.store()
    job = store.create_job("restore", "staging", {"backup_id": scene.backup.id})
    child = f"""
import os, signal, sys
sys.path.insert(0, {str(Path.cwd())!r})
from core.config import load_config
from engine.restore import RestoreRequest, run_restore
from jobs.store import Store
cfg = load_config({str(scene.cfg_path)!r})
req = RestoreRequest({scene.backup.id!r}, "staging", "U0DEV", ("U0LEAD1",), "kill test", job_id={job.id})
run_restore(cfg, req, state=Store.for_config(cfg), on_progress=lambda t: os.kill(os.getpid(), signal.SIGKILL))
"""
    proc = subprocess.Popen([sys.executable, "-c", child], env=dict(os.environ))
    assert store.transition(
        job.id, JobStatus.QUEUED, JobStatus.RUNNING, worker=f"{os.uname().nodename}:{proc.pid}:x"
    )
    assert proc.wait(timeout=120) == -signal.SIGKILL
    rec = next(iter(restore_swap.records(store).values()))
    assert rec["phase"] == "building" and rec["new"] in scene.databases()  # half-built, left behind

    runner = Runner(scene.cfg, store, NullReporter())
    assert [j.id for j in runner.recover()] == [job.id]
    interrupted = store.get_job(job.id)
    assert interrupted.status == JobStatus.INTERRUPTED
    assert f"The half-built database {rec['new']} was dropped" in interrupted.error["detail"]
    assert scene.databases() == {scene.target_db}
    assert pg.table_checksums(scene.target_url) == before


def test_undo_is_asked_for_approved_and_run_like_a_restore(swap_scene: SwapScene) -> None:
    """`/backup undo ID` posts a request; the requester cannot approve it; after a lead does, the job swaps back."""
    from commands.base import Invocation
    from commands.grammar import dispatch
    from jobs.context import JobContext
    from jobs.kinds import restore as restore_kind

    scene = swap_scene
    cfg, store = scene.cfg, scene.store()
    snapshot = pg.table_checksums(scene.target_url)
    report = run_restore(cfg, scene.request(), state=store)
    assert pg.table_checksums(scene.target_url) != snapshot

    def typed(user: str, text: str) -> str:
        reply = dispatch(text, Invocation(user=user, channel="C1", cfg=cfg, store=store))
        return (reply.later() if reply.later else reply).text  # type: ignore[union-attr]

    assert "no swap restore with id" in typed("U0DEV", "undo staging-nope")
    from jobs.freeze import freeze, unfreeze

    freeze(store, "staging", "U0LEAD1", "audit")
    assert "'staging' is frozen: no undo until a lead unfreezes it" in typed(
        "U0DEV", f"undo {report.restore_id}"
    )
    unfreeze(store, "staging", "U0LEAD1")
    answer = typed("U0DEV", f"undo {report.restore_id}")
    assert f"swap back {report.restore_id}" in answer
    job = store.list_jobs(statuses=[JobStatus.AWAITING_APPROVAL])[0]
    assert job.kind == "restore" and job.params["summary"]["Undo"].startswith(
        f"swap back restore {report.restore_id}"
    )
    from bot.restore_render import buttons, console_awaiting

    assert f"undo of restore `{report.restore_id}` on `staging`" in console_awaiting(job)
    confirm = buttons(job)["elements"][0]["confirm"]["text"]["text"]
    assert "swapped back" in confirm and "safety dump" not in confirm  # an undo takes none
    assert "you can't approve it" in typed("U0DEV", f"approve {job.id}")
    assert pg.table_checksums(scene.target_url) != snapshot  # nothing happened yet
    assert "starts now" in typed("U0LEAD1", f"approve {job.id}")
    job = store.get_job(job.id)
    outcome = restore_kind.run(JobContext(cfg=cfg, store=store, job=job, reporter=NullReporter()))
    assert f"Undid restore `{report.restore_id}`" in outcome.summary
    assert pg.table_checksums(scene.target_url) == snapshot


def test_maintenance_switch_keeps_the_app_up_until_the_renames(swap_scene: SwapScene) -> None:
    """maintenance = "switch": built and migrated while the app serves; maintenance only around the switch."""
    scene = swap_scene
    set_options(scene, 'maintenance = "switch"')
    hook_log = scene.tmp / "hooks.log"
    writes: list[str] = []

    def on_step(rec: StepRecord) -> None:
        if rec.key == "health" and rec.status == "running":  # the app is still up and writing
            assert not hook_log.exists() or "maint-on" not in hook_log.read_text()
            with psycopg.connect(scene.target_url, autocommit=True) as conn:
                conn.execute(
                    "INSERT INTO accounts (name) VALUES ('written while the new database was built')"
                )
            writes.append("ok")

    report = run_restore(scene.cfg, scene.request(), state=scene.store(), on_step=on_step)
    assert report.succeeded and writes == ["ok"]
    assert [s.key for s in report.steps] == [k for k, _ in restore_swap.SWITCH_STEPS]
    assert hook_log.read_text().splitlines() == ["migrate", "maint-on", "maint-off"]
    # Only the switch runs between maintenance on and off (how long that takes: bench/bench_restore.py).
    keys = [s.key for s in report.steps]
    assert keys[keys.index("maintenance_on") + 1 : keys.index("maintenance_off")] == ["switch"]
    with psycopg.connect(pg.url_for(report.extra["previous_db"])) as conn:  # the write is kept
        assert conn.execute("SELECT count(*) FROM accounts WHERE name LIKE 'written while%'").fetchone() == (
            1,
        )
    assert pg.table_checksums(scene.target_url) == pg.table_checksums(scene.source_url)


def test_cli_shows_the_swap_plan_then_restores_and_undoes(swap_scene: SwapScene) -> None:
    from tests.engine.conftest import run_cli

    scene = swap_scene
    before = pg.table_checksums(scene.target_url)
    dry = run_cli("restore", scene.backup.id, "--target", "staging")
    assert dry.returncode == 0, dry.stderr
    assert "4. Restore into a new database on the target's server, no --clean" in dry.stdout
    assert "7. Switch: terminate open sessions, rename the target to <name>_before_<time>" in dry.stdout
    assert pg.table_checksums(scene.target_url) == before

    done = run_cli(
        "--json", "restore", scene.backup.id, "--target", "staging", "--break-glass", "--reason", "t"
    )
    assert done.returncode == 0, done.stderr
    assert "[7/9] Switch databases: ok" in done.stderr
    restore_id = json.loads(done.stdout)["restore_id"]
    assert pg.table_checksums(scene.target_url) == pg.table_checksums(scene.source_url)

    shown = run_cli("undo", restore_id)
    assert shown.returncode == 0 and "Dry run: nothing was changed" in shown.stdout
    assert pg.table_checksums(scene.target_url) == pg.table_checksums(scene.source_url)
    undone = run_cli("undo", restore_id, "--break-glass", "--reason", "wrong backup")
    assert undone.returncode == 0, undone.stderr
    assert "is back as it was before" in undone.stdout
    assert pg.table_checksums(scene.target_url) == before


def test_a_run_killed_inside_the_switch_leaves_the_target_accepting_connections(
    swap_scene: SwapScene,
) -> None:
    """Killed after new connections were refused but before the renames committed: restart undoes the refusal."""
    from jobs.events import NullReporter
    from jobs.runner import Runner

    scene = swap_scene
    before = pg.table_checksums(scene.target_url)
    store = scene.store()
    job = store.create_job("restore", "staging", {"backup_id": scene.backup.id})
    names = restore_swap.names_for(scene.target_db, "staging-20260101T000000Z-restore")
    restore_swap.remember(
        store,
        "staging-20260101T000000Z-restore",
        phase="switching",
        target="staging",
        target_db=names.target,
        new=names.new,
        previous=names.previous,
        job_id=job.id,
    )
    with scene.admin() as conn:  # what the dead run had done: built the new database, refused connections
        pg_databases.create_like(conn, names.new, names.target)
        pg_databases.set_connections(conn, names.target, False)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(scene.target_url).close()
    assert store.transition(
        job.id, JobStatus.QUEUED, JobStatus.RUNNING, worker=f"{os.uname().nodename}:999999:x"
    )

    assert [j.id for j in Runner(scene.cfg, store, NullReporter()).recover()] == [job.id]
    assert (
        f"{names.target} was not changed and serves under its name" in store.get_job(job.id).error["detail"]
    )
    assert scene.databases() == {scene.target_db}
    assert pg.table_checksums(scene.target_url) == before


def test_switch_mode_failure_before_maintenance_does_not_send_people_to_end_it(
    swap_scene: SwapScene, monkeypatch: pytest.MonkeyPatch
) -> None:
    scene = swap_scene
    set_options(scene, 'maintenance = "switch"')
    monkeypatch.setenv("HOOK_FAIL_MIGRATE", "3")
    before = pg.table_checksums(scene.target_url)
    with pytest.raises(RestoreFailed) as err:
        run_restore(scene.cfg, scene.request(), state=scene.store())
    _assert_unchanged(scene, before, err.value)
    assert (scene.tmp / "hooks.log").read_text().splitlines() == ["migrate"]  # the app never left service
    assert "maintenance" not in err.value.render().split("Target state:")[1].split("\n")[0]
    assert "maintenance" not in (err.value.hint or "")
