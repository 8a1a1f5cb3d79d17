"""The clean method tells the truth: what stays in the target, or with "exact" what is dropped.

And its undo (restoring the safety dump into the database it came from) puts back
exactly what was there, partitioned tables included.
"""

from __future__ import annotations

import psycopg
import pytest

from core.errors import PreflightError
from engine.catalog import get_backup
from engine.restore import RestoreRequest, run_restore
from engine.restore_plan import preflight, require_ok, undo_command
from tests.restore.conftest import Scene
from tests.restore.test_swap import SwapScene, schema, set_options, swap_scene  # noqa: F401
from tests.support import pg


def use_clean(scene: SwapScene, *lines: str) -> None:
    scene.cfg_path.write_text(
        scene.cfg_path.read_text().replace('restore_method = "auto"', 'restore_method = "clean"')
    )
    set_options(scene, *lines)


def test_card_lists_what_stays_and_the_restore_leaves_it(scene: Scene) -> None:
    with psycopg.connect(scene.target_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE added_by_a_migration (id int)")
        conn.execute("CREATE FUNCTION only_fn() RETURNS int LANGUAGE sql AS 'SELECT 1'")
    pre = preflight(scene.cfg, scene.backup, "staging", state=scene.store())
    assert pre.fields["Restore method"].startswith(
        'clean, in place with pg_restore --clean --if-exists (restore_method = "clean")'
    )
    assert pre.fields["Will overwrite"].startswith("3 of the target's 4 tables (those the backup also has)")
    assert pre.fields["Will replace"].endswith("(3 of the target's 4 tables); nothing else is touched")
    stay = pre.fields["Will stay"]
    assert stay.startswith("2 objects only in the target, untouched:")
    assert "function public.only_fn" in stay and "table public.added_by_a_migration" in stay
    assert "customers" not in stay
    report = run_restore(scene.cfg, RestoreRequest(scene.backup.id, "staging", "U0DEV"), state=scene.store())
    assert report.succeeded
    with psycopg.connect(scene.target_url) as conn:
        assert conn.execute("SELECT to_regclass('added_by_a_migration') IS NOT NULL").fetchone() == (True,)


def test_clean_keep_refuses_a_partitioned_target_before_touching_it(swap_scene: SwapScene) -> None:  # noqa: F811
    scene = swap_scene
    use_clean(scene)
    pre = preflight(scene.cfg, scene.backup, "staging", state=scene.store())
    assert (
        "table public.only_here" in pre.fields["Will stay"]
        and "view public.only_view" in pre.fields["Will stay"]
    )
    with pytest.raises(PreflightError) as err:
        require_ok(pre)
    assert "partitioned tables the backup replaces (public.events)" in (err.value.detail or "")


def test_clean_exact_equals_the_backup_and_its_undo_brings_back_the_partitioned_target(
    swap_scene: SwapScene,  # noqa: F811
) -> None:
    scene = swap_scene
    use_clean(scene, 'restore_clean = "exact"')
    before_rows, before_schema = pg.table_checksums(scene.target_url), schema(scene.target_url)
    pre = preflight(scene.cfg, scene.backup, "staging", state=scene.store())
    assert pre.ok, pre.blocking
    drop = pre.fields["Will drop"]
    assert drop.startswith('everything else in the target first (restore_clean = "exact"):')
    assert "table public.only_here" in drop and "view public.only_view" in drop
    report = run_restore(scene.cfg, scene.request(), state=scene.store())
    assert report.succeeded, report.state
    assert "emptied first" in report.step("restore").detail
    assert pg.table_checksums(scene.target_url) == pg.table_checksums(scene.source_url)
    assert schema(scene.target_url) == schema(scene.source_url)

    # The printed undo: the safety dump back into the target, exactly (only_here, only_view and all).
    assert undo_command(str(report.safety_id), "staging", report.restore_id) in report.runbook_text
    # with the default restore_clean the undo must be exact on its own
    scene.cfg_path.write_text(scene.cfg_path.read_text().replace('restore_clean = "exact"\n', ""))
    safety = get_backup(scene.cfg, str(report.safety_id))
    pre = preflight(scene.cfg, safety, "staging", state=scene.store())
    assert "a safety dump of this database goes back exactly as it was" in pre.fields["Will drop"]
    undo = run_restore(
        scene.cfg, RestoreRequest(str(report.safety_id), "staging", "U0DEV"), state=scene.store()
    )
    assert undo.succeeded, undo.state
    assert pg.table_checksums(scene.target_url) == before_rows
    assert schema(scene.target_url) == before_schema


def test_break_glass_clean_over_a_partitioned_target_is_refused_at_preflight(
    swap_scene: SwapScene,  # noqa: F811
) -> None:
    """Break glass skips the approval, not the preflight: the same refusal as in Slack, nothing changed."""
    from engine.catalog import list_backups
    from jobs.store import Store
    from tests.engine.conftest import run_cli

    scene = swap_scene
    use_clean(scene)
    before_rows, before_schema = pg.table_checksums(scene.target_url), schema(scene.target_url)
    proc = run_cli(
        "restore", scene.backup.id, "--target", "staging", "--break-glass", "--reason", "slack is down"
    )
    assert proc.returncode != 0
    assert f"restore of {scene.backup.id} into 'staging' cannot run" in proc.stderr
    assert "partitioned tables the backup replaces (public.events)" in proc.stderr
    assert "Nothing was changed" in proc.stderr
    assert "[1/8]" not in proc.stderr  # no step started
    assert pg.table_checksums(scene.target_url) == before_rows and schema(scene.target_url) == before_schema
    assert not [m for m in list_backups(scene.cfg, "staging") if m.kind == "pre-restore"]
    assert (scene.tmp / "hooks.log").exists() is False
    events = [r["event"] for r in Store.for_config(scene.cfg).audit_rows()]
    assert "break_glass_restore_started" not in events
