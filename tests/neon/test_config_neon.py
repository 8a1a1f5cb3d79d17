"""[neon] and the Neon settings of a database: loaded, and wrong ones refused with the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import load_config
from core.errors import ConfigError

BASE = '[storage]\nurl = "file:///tmp/bb-store"\n'


def load(tmp_path: Path, text: str):  # noqa: ANN201
    path = tmp_path / "backupbot.toml"
    path.write_text(BASE + text)
    return load_config(str(path))


def test_a_neon_only_database_needs_no_dump_url(tmp_path: Path) -> None:
    cfg = load(
        tmp_path,
        '[neon]\napi_key_env = "MY_NEON"\nretry_seconds = 30\n\n[databases.prod]\nneon_project_id = "p-1"\n',
    )
    assert cfg.neon.api_key_env == "MY_NEON" and cfg.neon.retry_seconds == 30.0
    assert cfg.database("prod").neon_project_id == "p-1" and cfg.database("prod").neon_branch == ""


def test_wrong_neon_settings_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown setting 'api_key' in \\[neon\\]") as bad:
        load(tmp_path, '[neon]\napi_key = "secret"\n')
    assert "api_key_env" in (bad.value.hint or "")
    with pytest.raises(ConfigError, match="neon_branch needs neon_project_id"):
        load(tmp_path, '[databases.prod]\ndump_url_env = "X"\nneon_branch = "main"\n')
    with pytest.raises(ConfigError, match="has no dump_url_env"):
        load(tmp_path, "[databases.prod]\nmigrate = []\n")
