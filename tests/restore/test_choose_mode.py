"""restore_mode = "auto" stages with pg_restore -j only where a core is left for the staging.

bench/bench_restore.py on 2 cores: the staged swap's restore step took 1.14x the recipe, the
streamed one 0.98x; with no core to spare, decrypting and staging compete with pg_restore's
workers. The core count is the one thing that differs between machines, so it is set here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.config import Config, parse_config
from engine import restore_plan
from engine.manifest import Manifest


def _cfg(tmp_path: Path, *lines: str) -> Config:
    raw: dict = {
        "storage": {"url": (tmp_path / "store").as_uri(), "sse": "none"},
        "state_dir": str(tmp_path / "state"),
        "databases": {"app": {"dump_url_env": "APP_URL", "restore_url_env": "APP_URL"}},
    }
    for line in lines:
        key, value = (part.strip() for part in line.split("=", 1))
        raw["databases"]["app"][key] = int(value) if value.isdigit() else value.strip('"')
    return parse_config(raw, "t.toml")


@pytest.fixture
def small_dump() -> Manifest:
    created = datetime(2026, 12, 5, tzinfo=UTC)
    return Manifest("app-20261205T000000Z-manual-1abc", "app", "manual", created, "db/app/x", dump_bytes=1024)


@pytest.mark.parametrize(
    ("cores", "lines", "want", "why"),
    [
        (2, (), "streamed", "2 cores, none to spare beside pg_restore -j 2"),
        (3, (), "staged", "free on the staging disk"),
        (8, ("restore_jobs = 4",), "staged", "free on the staging disk"),
        (4, ("restore_jobs = 4",), "streamed", "4 cores"),
        (2, ('restore_mode = "staged"',), "staged", "free on the staging disk"),
        (64, ('restore_mode = "streamed"',), "streamed", 'restore_mode = "streamed"'),
        (64, ("restore_jobs = 1",), "streamed", "restore_jobs = 1"),
    ],
)
def test_auto_streams_without_a_core_to_spare(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    small_dump: Manifest,
    cores: int,
    lines: tuple[str, ...],
    want: str,
    why: str,
) -> None:
    monkeypatch.setattr(restore_plan.os, "cpu_count", lambda: cores)
    mode, reason = restore_plan.choose_mode(_cfg(tmp_path, *lines), "app", small_dump)
    assert (mode, why in reason) == (want, True), reason


def test_an_unknown_restore_mode_is_refused(tmp_path: Path) -> None:
    from core.errors import ConfigError

    with pytest.raises(ConfigError, match="restore_mode"):
        _cfg(tmp_path, 'restore_mode = "fast"')
