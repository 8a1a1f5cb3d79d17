"""`backupbot restore` from a terminal: a dry run by default, the whole runbook with --break-glass."""

from __future__ import annotations

import json

from jobs.store import Store
from tests.engine.conftest import run_cli
from tests.restore.conftest import Scene
from tests.support import pg
from tests.support.fake_slack import FakeSlack


def test_without_break_glass_it_only_shows_the_plan(scene: Scene) -> None:
    proc = run_cli("restore", scene.backup.id, "--target", "staging")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "Dry run: nothing was changed" in out
    assert "3. Maintenance on:" in out and "maint-on" in out
    assert f"/backup restore {scene.backup.id} --target staging" in out
    assert "--break-glass" in out
    assert scene.hook_calls() == []
    assert pg.table_checksums(scene.target_url) == scene.target_before


def test_break_glass_needs_a_reason(scene: Scene) -> None:
    proc = run_cli("restore", scene.backup.id, "--target", "staging", "--break-glass")
    assert proc.returncode == 2
    assert "--reason" in proc.stderr
    assert pg.table_checksums(scene.target_url) == scene.target_before


def test_break_glass_runs_the_runbook_and_is_audited(scene: Scene) -> None:
    proc = run_cli(
        "--json",
        "restore",
        scene.backup.id,
        "--target",
        "staging",
        "--break-glass",
        "--reason",
        "slack is down",
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["succeeded"] and "-pre-restore-" in result["safety_id"]
    assert "[4/8] Restore: ok" in proc.stderr
    assert pg.table_checksums(scene.target_url) == pg.table_checksums(scene.source_url)
    assert scene.hook_calls() == ["maint-on", "migrate", "maint-off"]
    assert "break glass" in scene.runbook_file.read_text()
    events = [r["event"] for r in Store.for_config(scene.cfg).audit_rows()]
    assert "break_glass_restore_started" in events and "break_glass_restore_succeeded" in events


def test_break_glass_is_announced_when_slack_answers(scene: Scene) -> None:
    fake = FakeSlack()
    try:
        proc = run_cli(
            "restore",
            scene.backup.id,
            "--target",
            "staging",
            "--break-glass",
            "--reason",
            "bot is down",
            env={"SLACK_BOT_TOKEN": "xoxb-1-2-cli", "SLACK_API_URL": fake.api_url},
        )
        assert proc.returncode == 0, proc.stderr
        texts = [m.text for m in fake.messages("C0BACKUPS")]
        assert len(texts) == 2
        assert "Break-glass restore by" in texts[0] and "bot is down" in texts[0]
        assert "done" in texts[1] and scene.backup.id in texts[1] and "Safety dump" in texts[1]
        assert "xoxb-1-2-cli" not in proc.stdout + proc.stderr
    finally:
        fake.stop()
