"""The "what now" text of a stopped restore: read at the worst moment, so it must be exact."""

from __future__ import annotations

from core.config import DatabaseConfig
from engine.restore_plan import next_action, target_state


def _db(**kw: object) -> DatabaseConfig:
    return DatabaseConfig(name="prod", dump_url_env="PROD_DUMP_URL", **kw)  # type: ignore[arg-type]


def test_next_action_without_maintenance_hooks_reads_cleanly() -> None:
    text, undo = next_action("restore", _db(), "prod-20260501T030000Z-pre-restore", "prod", "r1")
    assert undo is not None
    assert (
        text
        == f"either fix the cause and request the restore again; or put back what was there before with `{undo}`."
    )
    assert ",;" not in text and "`," not in text


def test_next_action_with_maintenance_off_names_it_after_each_choice() -> None:
    db = _db(maintenance_on=("maint", "on"), maintenance_off=("maint", "off"))
    text, undo = next_action("health", db, "prod-20260501T030000Z-pre-restore", "prod", "r1")
    assert text is not None and undo is not None
    assert text.startswith("either check the data and decide, then take the app out of maintenance (`")
    assert text.endswith(f"`{undo}`, then take the app out of maintenance (`maint off`).")


def test_target_state_says_maintenance_only_when_there_is_a_hook() -> None:
    assert (
        target_state("restore", "not started")
        == "unchanged (pg_restore had not started), still in maintenance"
    )
    assert (
        target_state("restore", "not started", maintenance=False) == "unchanged (pg_restore had not started)"
    )
    assert target_state("migrate", "staged", maintenance=False) == "restored, migrations failed"
