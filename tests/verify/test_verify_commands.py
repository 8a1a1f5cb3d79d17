"""What `/backup verify` and `/backup restore-table` understand, and what they refuse."""

from __future__ import annotations

from typing import Any

import pytest

from commands.restore_table import SPEC as RESTORE_TABLE
from commands.verify import SPEC as VERIFY
from core.config import Config, parse_config
from core.errors import UsageError


@pytest.fixture
def cfg() -> Config:
    return parse_config(
        {
            "storage": {"url": "file:///tmp/x"},
            "databases": {"prod": {"dump_url_env": "P"}, "staging": {"dump_url_env": "S"}},
        },
        "t.toml",
    )


@pytest.mark.parametrize(
    ("words", "ref", "database"),
    [
        (["prod"], "latest:prod", "prod"),
        (["latest", "staging"], "latest:staging", "staging"),
        (["latest:prod"], "latest:prod", "prod"),
        (["prod-20261205T030000Z-daily"], "prod-20261205T030000Z-daily", "prod"),
        (["prod-2026", "prod"], "prod-2026", "prod"),
    ],
)
def test_verify_resolves_backup_and_database(cfg: Config, words: list[str], ref: str, database: str) -> None:
    req = VERIFY.parse(words, cfg)
    assert (req.backup_ref, req.database) == (ref, database)


def test_verify_needs_a_database_when_it_cannot_tell(cfg: Config) -> None:
    with pytest.raises(UsageError, match="which database"):
        VERIFY.parse(["latest"], cfg)
    with pytest.raises(UsageError, match="unknown database 'prdo'"):
        VERIFY.parse(["latest", "prdo"], cfg)


def test_restore_table_refuses_what_is_not_a_table_name(cfg: Config) -> None:
    req = RESTORE_TABLE.parse(["latest", "public.invoices", "prod"], cfg)
    assert (req.backup_ref, req.table, req.database) == ("latest:prod", "public.invoices", "prod")
    with pytest.raises(UsageError, match="not a table name"):
        RESTORE_TABLE.parse(["latest", "x; DROP TABLE y", "prod"], cfg)


def test_drill_target_must_be_another_configured_database() -> None:
    from core.errors import ConfigError

    raw = {
        "storage": {"url": "file:///tmp/x"},
        "databases": {
            "prod": {"dump_url_env": "P", "drill_target": "stagin"},
            "staging": {"dump_url_env": "S"},
        },
    }
    with pytest.raises(ConfigError, match="drill_target 'stagin' is not another configured database"):
        parse_config(raw, "t.toml")
    raw["databases"]["prod"]["drill_target"] = "staging"  # type: ignore[index]
    with pytest.raises(ConfigError, match="has no restore_url_env"):
        parse_config(raw, "t.toml")
    raw["databases"]["prod"]["row_counts"] = "approx"  # type: ignore[index]
    with pytest.raises(ConfigError, match='row_counts must be "exact" or "estimate"'):
        parse_config(raw, "t.toml")


def test_doctor_checks_the_verification_server(verify_scene: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.doctor import run_doctor

    checks = {
        c.name: c for c in run_doctor(str(verify_scene.cfg_path)).checks if c.area == "verification server"
    }
    assert checks["configured"].status == "ok" and "@localhost:5432/postgres" in checks["configured"].detail
    assert checks["may create scratch databases"].status == "ok"

    monkeypatch.setenv("BACKUPBOT_VERIFY_URL", verify_scene.source_url)
    checks = {
        c.name: c for c in run_doctor(str(verify_scene.cfg_path)).checks if c.area == "verification server"
    }
    assert checks["configured"].status == "fail"
    assert "points at database 'app'" in checks["configured"].detail
