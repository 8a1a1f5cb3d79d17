"""The eight runbook steps against real PostgreSQL and the local S3 server, reported step by step."""

from __future__ import annotations

import re

import psycopg
import pytest

from adapters.storage import open_storage
from engine.catalog import list_backups
from engine.restore import RestoreRequest, run_restore
from engine.restore_plan import RestoreFailed, estimate, preflight
from engine.restore_steps import lock_name
from tests.restore.conftest import Scene
from tests.support import pg


class Recorder:
    def __init__(self) -> None:
        self.lines: list[tuple[int, str, str]] = []

    def __call__(self, rec: object) -> None:
        self.lines.append((rec.number, rec.key, rec.status))  # type: ignore[attr-defined]

    def final(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for _, key, status in self.lines:
            out[key] = status
        return out


def request(scene: Scene, backup_id: str | None = None) -> RestoreRequest:
    return RestoreRequest(
        backup_id=backup_id or scene.backup.id,
        target="staging",
        requested_by="U0DEV",
        approved_by=("U0LEAD1",),
        reason="test restore",
    )


def test_restore_runs_the_runbook_and_can_be_undone(scene: Scene) -> None:
    text = scene.cfg_path.read_text()  # staged with -j even on a machine where "auto" would stream
    scene.cfg_path.write_text(
        text.replace("hook_timeout_seconds = 60", 'hook_timeout_seconds = 60\nrestore_mode = "staged"', 1)
    )
    cfg = scene.cfg
    store = scene.store()
    pre = preflight(cfg, scene.backup, "staging", state=store)
    assert pre.ok and pre.archive.count("TABLE") == 3 and pre.archive.count("VIEW") == 1
    assert "3 tables" in pre.fields["Will overwrite"]

    app_session = psycopg.connect(scene.target_url)  # the app, still connected
    pre = preflight(cfg, scene.backup, "staging", state=store)
    assert pre.fields["Open sessions"].startswith("1 (terminate before restoring)")

    rec = Recorder()
    report = run_restore(cfg, request(scene), state=store, on_step=rec)

    assert report.succeeded
    assert re.search(r"\d+ sessions terminated", report.step("restore").detail)
    with pytest.raises(psycopg.OperationalError):
        app_session.execute("SELECT 1")
    assert pg.table_checksums(scene.target_url) == pg.table_checksums(scene.source_url)
    assert [k for _, k, s in rec.lines if s == "running"] == [
        "lock",
        "safety_dump",
        "maintenance_on",
        "restore",
        "migrate",
        "health",
        "maintenance_off",
        "runbook",
    ]
    assert set(rec.final().values()) == {"ok"}
    assert scene.hook_calls() == ["maint-on", "migrate", "maint-off"]
    assert report.mode == "staged"
    assert report.state == "restored, migrated, checked and back in service"
    assert "free on the staging disk" in report.step("restore").detail
    assert not list((scene.tmp / "staging").iterdir())  # the staged dump is gone

    safety = [m for m in list_backups(cfg, "staging") if m.kind == "pre-restore"]
    assert [m.id for m in safety] == [report.safety_id]
    entry = open_storage(cfg.storage).get_bytes(report.runbook_key).decode()
    assert report.runbook_key.startswith(f"runbook/staging/{report.started_at:%Y}/")
    for needle in (scene.backup.id, report.safety_id, "U0DEV", "U0LEAD1", "Migrate", "succeeded"):
        assert needle in entry
    assert entry in scene.runbook_file.read_text()
    assert store.lock_holder(lock_name("staging")) is None
    seconds, basis = estimate(store, scene.backup.dump_bytes)
    assert seconds is not None and "staging" in basis

    # Undo: restoring the safety dump brings back what the target held before.
    undo = run_restore(cfg, request(scene, report.safety_id), state=store)
    assert undo.succeeded
    assert pg.table_checksums(scene.target_url) == scene.target_before


def test_failing_migrate_stops_there_and_says_what_to_do(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_FAIL_MIGRATE", "3")
    rec = Recorder()
    with pytest.raises(RestoreFailed) as err:
        run_restore(scene.cfg, request(scene), state=scene.store(), on_step=rec)
    text = err.value.render()
    report = err.value.report
    assert "step 5 (Migrate)" in text
    assert "restored, migrations failed, still in maintenance" in text
    assert f"backupbot restore {report.safety_id} --target staging --break-glass" in text
    assert scene.hook_calls() == ["maint-on", "migrate"]  # maintenance stays on
    final = rec.final()
    assert final["migrate"] == "failed" and "health" not in final and final["runbook"] == "ok"
    assert "FAILED" in scene.runbook_file.read_text()
    assert pg.table_checksums(scene.target_url) == pg.table_checksums(scene.source_url)


@pytest.mark.parametrize("jobs", [1, 2], ids=["streamed", "staged"])
def test_failed_pg_restore_says_what_state_the_target_is_in(scene: Scene, jobs: int) -> None:
    """Streamed (-j 1) runs in one transaction and rolls back; staged (-j N) cannot, and says so."""
    with psycopg.connect(scene.target_url, autocommit=True) as conn:
        # A view the backup does not know depends on a table the restore must drop: pg_restore fails.
        conn.execute("CREATE VIEW blocker AS SELECT id FROM customers")
    before = pg.table_checksums(scene.target_url)
    cfg_text = scene.cfg_path.read_text().replace(
        "hook_timeout_seconds = 60",
        f'hook_timeout_seconds = 60\nrestore_jobs = {jobs}\nrestore_mode = "staged"',
    )
    scene.cfg_path.write_text(cfg_text)
    with pytest.raises(RestoreFailed) as err:
        run_restore(scene.cfg, request(scene), state=scene.store())
    assert "step 4 (Restore)" in err.value.message
    if jobs == 1:
        assert "unchanged (the restore was rolled back), still in maintenance" in err.value.render()
        assert pg.table_checksums(scene.target_url) == before
    else:
        assert "partially restored, still in maintenance" in err.value.render()
        assert "put back what was there before" in (err.value.hint or "")
        assert not list((scene.tmp / "staging").iterdir())  # the staged dump is removed on failure too


def test_a_held_lock_refuses_and_names_the_holder(scene: Scene) -> None:
    store = scene.store()
    assert store.acquire_lock(lock_name("staging"), "restore staging-x asked by U0OTHER (job 7)")
    with pytest.raises(RestoreFailed) as err:
        run_restore(scene.cfg, request(scene), state=store)
    assert "U0OTHER (job 7)" in err.value.message or "U0OTHER (job 7)" in err.value.render()
    assert "step 1 (Lock target)" in err.value.render()
    assert scene.hook_calls() == []
    assert not [m for m in list_backups(scene.cfg, "staging") if m.kind == "pre-restore"]
    assert pg.table_checksums(scene.target_url) == scene.target_before
