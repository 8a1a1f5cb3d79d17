"""How the restore step gets in: streamed when the staging disk is too small, and
``restore_sessions = "wait"`` with an app session that ends, or one that never does."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from engine.restore import RestoreRequest, StepRecord, run_restore
from engine.restore_plan import RestoreFailed, preflight
from tests.restore.conftest import Scene
from tests.support import pg


def request(scene: Scene) -> RestoreRequest:
    return RestoreRequest(
        backup_id=scene.backup.id,
        target="staging",
        requested_by="U0DEV",
        approved_by=("U0LEAD1",),
        reason="test restore",
    )


def set_target_options(scene: Scene, *lines: str) -> None:
    text = scene.cfg_path.read_text()
    scene.cfg_path.write_text(
        text.replace("hook_timeout_seconds = 60", "\n".join(("hook_timeout_seconds = 60", *lines)), 1)
    )


@pytest.fixture
def tiny_staging_dir(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MB filesystem (tmpfs), so the free-space check meets a disk that is really too small."""
    where = tmp_path / "tiny-staging"
    where.mkdir()
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        pytest.skip(f"mounting a 1 MB tmpfs needs root: {proc.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=False)


def test_too_little_disk_to_stage_streams_in_one_transaction(scene: Scene, tiny_staging_dir: Path) -> None:
    text = scene.cfg_path.read_text().replace(str(scene.tmp / "staging"), str(tiny_staging_dir))
    scene.cfg_path.write_text(text)
    set_target_options(scene, 'restore_mode = "staged"')
    cfg = scene.cfg
    assert cfg.database("staging").restore_jobs == 2  # staging would be the choice, if it fitted

    pre = preflight(cfg, scene.backup, "staging", state=scene.store())
    assert pre.mode == "streamed"
    assert "not enough free disk to stage" in pre.fields["Restore method"]

    report = run_restore(cfg, request(scene), state=scene.store())
    assert report.succeeded and report.mode == "streamed"
    detail = report.step("restore").detail
    assert "streamed, single transaction" in detail and "not enough free disk to stage" in detail
    assert pg.table_checksums(scene.target_url) == pg.table_checksums(scene.source_url)
    assert not list(tiny_staging_dir.iterdir())


def app_session(url: str) -> psycopg.Connection:
    return psycopg.connect(url, application_name="invoice-worker", autocommit=True)


def test_wait_lets_an_open_session_finish_then_restores(scene: Scene) -> None:
    set_target_options(scene, 'restore_sessions = "wait"')
    worker = app_session(scene.target_url)
    closer: list[threading.Timer] = []

    def on_step(rec: StepRecord) -> None:
        # The app finishes its work a moment after the restore step begins waiting for it.
        if rec.key == "restore" and rec.status == "running":
            closer.append(threading.Timer(1.0, worker.close))
            closer[0].start()

    report = run_restore(scene.cfg, request(scene), state=scene.store(), on_step=on_step)
    closer[0].join()
    assert report.succeeded
    assert "1 sessions ended" in report.step("restore").detail
    assert (report.step("restore").seconds or 0) >= 1.0  # it did not start before the session ended
    assert pg.table_checksums(scene.target_url) == pg.table_checksums(scene.source_url)


def test_wait_gives_up_on_a_session_that_stays_and_changes_nothing(scene: Scene) -> None:
    set_target_options(scene, 'restore_sessions = "wait"')
    scene.cfg_path.write_text(
        scene.cfg_path.read_text().replace("hook_timeout_seconds = 60", "hook_timeout_seconds = 2")
    )
    with app_session(scene.target_url) as worker:
        pid = worker.info.backend_pid
        with pytest.raises(RestoreFailed) as err:
            run_restore(scene.cfg, request(scene), state=scene.store())
        text = err.value.render()
        assert "step 4 (Restore)" in text
        assert "1 sessions are still open on 'staging' after waiting 2 s; nothing was restored" in text
        assert f"pid {pid} postgres (invoice-worker)" in text
        assert "unchanged (pg_restore had not started), still in maintenance" in text
        assert worker.execute("SELECT 1").fetchone() == (1,)  # waited for, never terminated
    assert err.value.report.step("restore").status == "failed"
    assert pg.table_checksums(scene.target_url) == scene.target_before
    assert not list((scene.tmp / "staging").glob("*"))  # nothing staged left behind
