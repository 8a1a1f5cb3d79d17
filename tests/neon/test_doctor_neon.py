"""`backupbot doctor` on a Neon-only database: the dump checks step aside, the Neon ones run."""

from __future__ import annotations

import json

from core.config import Config
from tests.engine.conftest import run_cli
from tests.support.fake_neon import FakeNeon


def test_doctor_checks_the_neon_key_project_and_branch(neon_cfg: Config, fake_neon: FakeNeon) -> None:
    proc = run_cli("doctor", "--json")
    checks = {(c["area"], c["name"]): c for c in json.loads(proc.stdout)["checks"]}
    assert checks[("database prod", "dump URL")]["status"] == "skip"
    assert checks[("neon prod", "API key opens the project")]["status"] == "ok"
    assert "history window 24 h" in checks[("neon prod", "API key opens the project")]["detail"]
    assert checks[("neon prod", "database's branch")]["detail"].startswith("main (br-")

    bad = run_cli("doctor", "--json", env={"NEON_API_KEY": "revoked-key-77"})
    key = {(c["area"], c["name"]): c for c in json.loads(bad.stdout)["checks"]}[
        ("neon prod", "API key opens the project")
    ]
    assert bad.returncode != 0 and key["status"] == "fail" and "NEON_API_KEY" in key["fix"]
    assert "revoked-key-77" not in bad.stdout
