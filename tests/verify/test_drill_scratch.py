"""A drill without a drill target restores into a scratch database, as verify does, and is timed."""

from __future__ import annotations

from engine.drill import compare_lines, run_drill
from jobs.store import Store
from tests.verify.conftest import VerifyScene, scratch_databases


def test_drill_without_target_uses_a_scratch_database_and_compares_with_the_last(
    verify_scene: VerifyScene,
) -> None:
    cfg = verify_scene.cfg
    store = Store.for_config(cfg)
    book = verify_scene.book()
    first = run_drill(cfg, "app", store, book)
    assert first.backup_id == verify_scene.backup.id
    assert first.into.startswith("scratch database backupbot_scratch_")
    assert first.into.removeprefix("scratch database ") not in scratch_databases()
    assert [t for t, _ in first.steps] == [
        "Integrity",
        "Contents",
        "Restore and count rows",
        "Drop scratch database",
    ]
    assert first.previous is None
    assert first.approval.startswith("none needed")

    second = run_drill(cfg, "app", store, book)
    assert second.previous == first.record()
    assert all("(previous " in line for line in compare_lines(second))
    events = [r["event"] for r in store.audit_rows() if r["event"].startswith("drill_")]
    assert events == ["drill_started", "drill_succeeded", "drill_started", "drill_succeeded"]
