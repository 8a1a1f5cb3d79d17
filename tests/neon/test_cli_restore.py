"""The break-glass CLI takes the same Neon sources: a dry run changes nothing, and the undo
command the runbook entry gives puts back exactly what the restore overwrote."""

from __future__ import annotations

import re
import shlex

from core.config import Config
from tests.engine.conftest import run_cli
from tests.neon.conftest import PID
from tests.support.fake_neon import FakeNeon


def test_dry_run_then_break_glass_then_its_undo(neon_cfg: Config, fake_neon: FakeNeon) -> None:
    main = fake_neon.branch_named(PID, "main")
    assert main
    fake_neon._new_branch(PID, "backup-20260101", main, "before-migration")

    dry = run_cli("restore", "neon:backup-20260101", "--target", "prod")
    assert dry.returncode == 0, dry.stderr
    assert "Dry run: nothing was changed" in dry.stdout and "neondb, billing" in dry.stdout
    assert "pre-restore-" in dry.stdout and not fake_neon.calls_to("POST", "/restore")

    no_reason = run_cli("restore", "neon:backup-20260101", "--target", "prod", "--break-glass")
    assert no_reason.returncode == 2 and "--break-glass needs --reason" in no_reason.stderr

    done = run_cli(
        "restore", "neon:backup-20260101", "--target", "prod", "--break-glass", "--reason", "slack down"
    )
    assert done.returncode == 0, done.stderr
    assert main["_content"] == "before-migration"
    assert "[3/8] Neon restore: ok" in done.stderr and "[4/8] Wait for Neon: ok" in done.stderr
    undo = re.search(
        r"Undo: `(backupbot restore neon:pre-restore-\S+ --target prod --break-glass[^`]*)`", done.stdout
    )
    assert undo, done.stdout
    assert (
        neon_cfg.database("prod").runbook_file
        and undo.group(1) in open(neon_cfg.database("prod").runbook_file).read()
    )

    back = run_cli(*shlex.split(undo.group(1))[1:])
    assert back.returncode == 0, back.stderr
    assert main["_content"] == "prod-v1"  # what was there before the first restore


def test_a_restore_call_that_timed_out_is_adopted_not_repeated(neon_cfg: Config, fake_neon: FakeNeon) -> None:
    from engine.neon_restore import run_neon_restore
    from engine.neon_restore_plan import plan_neon_restore
    from engine.restore_report import RestoreRequest

    main = fake_neon.branch_named(PID, "main")
    assert main
    fake_neon._new_branch(PID, "backup-x", main, "state-x")
    plan = plan_neon_restore(neon_cfg, "neon:backup-x", "prod")
    fake_neon.hang_next_restore = 1
    req = RestoreRequest(
        backup_id=plan.source.ref, target="prod", requested_by="U0DEV", approved_by=("U0LEAD1",)
    )
    report = run_neon_restore(neon_cfg, req, {"backup_id": plan.source.ref, **plan.params()})
    assert report.succeeded and report.preserved == plan.preserve
    assert len(fake_neon.calls_to("POST", "/restore")) == 1
    assert (
        main["_content"] == "state-x" and fake_neon.branch_named(PID, plan.preserve)["_content"] == "prod-v1"
    )
    assert "create_timeline" in report.step("wait").detail  # it waited for the operations it never saw


def test_a_failing_health_check_stops_the_run_and_names_the_undo(
    tmp_path, fake_neon: FakeNeon, pg_db: str, monkeypatch
) -> None:
    import pytest

    from core.config import load_config
    from engine.neon_restore import run_neon_restore
    from engine.neon_restore_plan import plan_neon_restore
    from engine.restore_plan import RestoreFailed
    from engine.restore_report import RestoreRequest
    from tests.neon.conftest import neon_config_text

    monkeypatch.setenv("PROD_URL", pg_db)
    extra = 'restore_url_env = "PROD_URL"\nhealth_checks = ["select 1 = 1", "select count(*) > 0 from pg_class where relname = \'invoices\'"]\n'
    path = tmp_path / "backupbot.toml"
    path.write_text(neon_config_text(f'url = "{(tmp_path / "store").as_uri()}"', tmp_path, db_extra=extra))
    monkeypatch.setenv("BACKUPBOT_STATE_DIR", str(tmp_path / "state"))
    cfg = load_config(str(path))
    main = fake_neon.branch_named(PID, "main")
    assert main
    fake_neon._new_branch(PID, "backup-y", main, "state-y")
    plan = plan_neon_restore(cfg, "neon:backup-y", "prod")
    req = RestoreRequest(
        backup_id=plan.source.ref, target="prod", requested_by="U0DEV", approved_by=("U0LEAD1",)
    )
    with pytest.raises(RestoreFailed) as failed:
        run_neon_restore(cfg, req, {"backup_id": plan.source.ref, **plan.params()})
    text = failed.value.render()
    assert "stopped at step 6 (Health checks)" in text and "health checks failed" in text
    assert f"backupbot restore neon:{plan.preserve} --target prod --break-glass" in text
    report = failed.value.report
    assert report.step("health").status == "failed" and report.step("maintenance_off").status == "not run"
    assert (
        "FAILED" in (tmp_path / "RUNBOOK.md").read_text()
        and plan.preserve in (tmp_path / "RUNBOOK.md").read_text()
    )


def test_a_frozen_database_refuses_a_neon_break_glass_restore(neon_cfg: Config, fake_neon: FakeNeon) -> None:
    from jobs.freeze import freeze
    from jobs.store import Store

    main = fake_neon.branch_named(PID, "main")
    assert main
    fake_neon._new_branch(PID, "backup-z", main, "state-z")
    freeze(Store.for_config(neon_cfg), "prod", "U0LEAD1", "quarter close")
    refused = run_cli("restore", "neon:backup-z", "--target", "prod", "--break-glass", "--reason", "try")
    assert refused.returncode != 0 and "quarter close" in refused.stderr
    assert not fake_neon.calls_to("POST", "/restore") and main["_content"] == "prod-v1"
