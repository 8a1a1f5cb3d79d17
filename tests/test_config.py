"""Config errors name the setting, the file and the fix; good configs load."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import load_config
from core.errors import ConfigError


def test_example_config_loads() -> None:
    cfg = load_config(str(Path(__file__).parent.parent / "backupbot.example.toml"))
    assert "prod" in cfg.databases
    assert cfg.databases["prod"].approvals_required == 2
    assert cfg.storage.sse == "AES256"


def test_unknown_setting_names_setting_file_and_nearest(tmp_path: Path) -> None:
    path = tmp_path / "b.toml"
    path.write_text('[storage]\nurl = "s3://b/p"\nregon = "x"\n')
    with pytest.raises(ConfigError) as err:
        load_config(str(path))
    text = err.value.render()
    assert "regon" in text and str(path) in text and "region" in text


def test_missing_file_named_by_env_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BACKUPBOT_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigError, match="does not exist"):
        load_config()


def test_wrong_type_and_bad_toml(tmp_path: Path) -> None:
    path = tmp_path / "b.toml"
    path.write_text('[storage]\nurl = "s3://b/p"\npart_size_mb = "big"\n')
    with pytest.raises(ConfigError, match="wrong type"):
        load_config(str(path))
    path.write_text("[storage\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(str(path))


def test_missing_env_url_names_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "b.toml"
    path.write_text('[storage]\nurl = "file:///tmp/x"\n[databases.prod]\ndump_url_env = "NOPE_URL_XYZ"\n')
    monkeypatch.delenv("NOPE_URL_XYZ", raising=False)
    cfg = load_config(str(path))
    with pytest.raises(ConfigError) as err:
        cfg.databases["prod"].dump_url()
    assert "NOPE_URL_XYZ" in err.value.render()
    with pytest.raises(ConfigError, match="unknown database 'prd'") as err2:
        cfg.database("prd")
    assert "prod" in (err2.value.hint or "")
