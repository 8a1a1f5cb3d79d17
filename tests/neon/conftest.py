"""Neon scenes: the fake Neon API (every request and response checked against the spec), a
project with a production branch, and a config whose database 'prod' lives on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.config import Config, load_config
from tests.support.fake_neon import FakeNeon

PID = "silent-hall-60879203"
KEY = "neon-test-key-0123456789"


@pytest.fixture
def fake_neon(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeNeon]:
    fake = FakeNeon(api_key=KEY)
    fake.add_project(PID, databases=("neondb", "billing"))
    monkeypatch.setenv("NEON_API_URL", fake.url)
    monkeypatch.setenv("NEON_API_KEY", KEY)
    yield fake
    fake.stop()
    assert fake.validation_errors == [], "\n".join(fake.validation_errors)


NEON_TOML = """
[neon]
api_key_env = "NEON_API_KEY"
timeout_seconds = 1.0
retry_seconds = 8
poll_interval_seconds = 0.05

[databases.prod]
neon_project_id = "{pid}"
neon_branch = "main"
approvers = ["U0LEAD1", "U0LEAD2"]
approver_group = "S0LEADS"
migrate = []
runbook_file = "{tmp}/RUNBOOK.md"
{db_extra}

[databases.prod.retention]
pre_event_days = 14
"""


def neon_config_text(storage: str, tmp: Path, extra: str = "", db_extra: str = "") -> str:
    """``storage`` is the [storage] table's lines; ``extra`` more tables; ``db_extra`` lines for [databases.prod]."""
    return "[storage]\n" + storage + "\n" + extra + NEON_TOML.format(pid=PID, tmp=tmp, db_extra=db_extra)


@pytest.fixture
def neon_cfg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_neon: FakeNeon) -> Config:
    path = tmp_path / "backupbot.toml"
    path.write_text(neon_config_text(f'url = "{(tmp_path / "store").as_uri()}"', tmp_path))
    monkeypatch.setenv("BACKUPBOT_CONFIG", str(path))
    monkeypatch.setenv("BACKUPBOT_STATE_DIR", str(tmp_path / "state"))
    return load_config(str(path))
