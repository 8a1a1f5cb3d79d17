"""`backupbot branch` as a pipeline runs it: a separate process, exit codes, --json."""

from __future__ import annotations

import json

from core.config import Config
from tests.engine.conftest import run_cli
from tests.neon.conftest import PID
from tests.support.fake_neon import FakeNeon


def test_pipeline_branch_prints_the_branch_and_exits_0_once_ready(
    neon_cfg: Config, fake_neon: FakeNeon
) -> None:
    fake_neon.op_polls = 3
    proc = run_cli(
        "branch",
        "--database",
        "prod",
        "--kind",
        "pre-migration",
        "--reason",
        "deploy 42",
        "--json",
        env={"GIT_SHA": "deadbeef"},
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    made = fake_neon.branches[PID][out["id"]]
    assert made["current_state"] == "ready" and made["name"] == out["name"]
    assert out["parent"] == "main" and out["point_in_time"] and out["kind"] == "pre-migration"
    assert fake_neon.annotations[PID][out["id"]]["backupbot-git-sha"] == "deadbeef"

    listed = run_cli("branches", "--database", "prod")
    assert listed.returncode == 0 and out["name"] in listed.stdout and "deploy 42" in listed.stdout


def test_pipeline_branch_exit_codes(neon_cfg: Config, fake_neon: FakeNeon) -> None:
    assert run_cli("branch", "--database", "nope").returncode == 2
    bad_key = run_cli("branch", "--database", "prod", env={"NEON_API_KEY": "not-the-key-42"})
    assert bad_key.returncode == 1 and "refused the API key" in bad_key.stderr
    assert "not-the-key-42" not in bad_key.stderr + bad_key.stdout
    old = run_cli("branch", "--database", "prod", "--at", "2020-01-01T00:00:00Z")
    assert old.returncode == 2 and "outside the history window" in old.stderr
    assert len(fake_neon.branches[PID]) == 1  # nothing was made


def test_branches_json_lists_what_the_bot_made(neon_cfg: Config, fake_neon: FakeNeon) -> None:
    made = run_cli("branch", "--reason", "nightly", "--json")  # the only database on Neon
    assert made.returncode == 0, made.stderr
    listed = run_cli("branches", "--json")
    data = json.loads(listed.stdout)
    assert data["branch"] == "main" and [b["name"] for b in data["backups"]] == [
        json.loads(made.stdout)["name"]
    ]
    assert data["backups"][0]["reason"] == "nightly"


def test_cli_prune_lists_then_deletes_expired_branches(neon_cfg: Config, fake_neon: FakeNeon) -> None:
    for name in ("backup-old", "backup-new"):
        assert run_cli("branch", "--name", name).returncode == 0
    old = fake_neon.branch_named(PID, "backup-old")
    assert old
    old["expires_at"] = old["created_at"] = "2020-01-01T00:00:00Z"
    dry = run_cli("prune", "--database", "prod")
    assert dry.returncode == 0, dry.stderr
    assert (
        "would delete backup-old" in dry.stdout and "keep backup-new — the newest backup branch" in dry.stdout
    )
    assert fake_neon.branch_named(PID, "backup-old")
    done = run_cli("prune", "--database", "prod", "--confirm")
    assert done.returncode == 0 and "deleted backup-old" in done.stdout
    assert fake_neon.branch_named(PID, "backup-old") is None and fake_neon.branch_named(PID, "backup-new")
