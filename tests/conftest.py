"""Fixtures shared by every test: real PostgreSQL databases, a real S3 server, a config on disk.

Each area adds its own fixtures in tests/<area>/conftest.py; what is here is what
more than one area needs.
"""

from __future__ import annotations

import base64
import os
import tempfile
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core import i18n
from tests.support import pg
from tests.support.s3server import S3Server, start_s3_server

for _var in (
    "BACKUPBOT_CONFIG",
    "BACKUPBOT_STATE_DIR",
    "BACKUPBOT_STATE_URL",
    "SLACK_BOT_TOKEN",
    "SLACK_APP_TOKEN",
    "SLACK_SIGNING_SECRET",
):
    os.environ.pop(_var, None)
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
# The per-user state directory of a test run is its own, never the home directory's.
os.environ["XDG_STATE_HOME"] = tempfile.mkdtemp(prefix="bb-xdg-state-")


@pytest.fixture(autouse=True)
def _english_after_each_test() -> Iterator[None]:
    """The locale is process-wide; a Spanish test must not leave the next one in Spanish."""
    yield
    i18n.set_locale("en")


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    server = start_s3_server()
    yield server
    server.stop()


@pytest.fixture
def s3_bucket(s3_server: S3Server) -> str:
    return s3_server.new_bucket()


@pytest.fixture
def pg_db() -> Iterator[str]:
    """URL of a fresh empty database, dropped after the test."""
    with pg.temp_database() as url:
        yield url


@pytest.fixture
def realistic_db(pg_db: str) -> str:
    pg.fill_realistic(pg_db)
    return pg_db


@pytest.fixture
def backup_key(monkeypatch: pytest.MonkeyPatch) -> str:
    key = base64.b64encode(os.urandom(32)).decode()
    monkeypatch.setenv("BACKUPBOT_KEY", key)
    return key


ConfigWriter = Callable[..., Path]


@pytest.fixture
def write_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ConfigWriter:
    """Writes backupbot.toml into tmp_path, points BACKUPBOT_CONFIG and the state dir at it.

    ``write_config(storage_url, databases={"app": url}, extra="...toml...")`` sets for each
    database NAME the env vars NAME_DUMP_URL and NAME_RESTORE_URL to the given URL.
    """

    def write(
        storage_url: str, databases: dict[str, str] | None = None, extra: str = "", endpoint_url: str = ""
    ) -> Path:
        lines = ["[storage]", f'url = "{storage_url}"']
        if endpoint_url:
            lines += [f'endpoint_url = "{endpoint_url}"', 'region = "us-east-1"']
        for name, url in (databases or {}).items():
            env = name.upper().replace("-", "_")
            monkeypatch.setenv(f"{env}_DUMP_URL", url)
            monkeypatch.setenv(f"{env}_RESTORE_URL", url)
            lines += [
                "",
                f"[databases.{name}]",
                f'dump_url_env = "{env}_DUMP_URL"',
                f'restore_url_env = "{env}_RESTORE_URL"',
            ]
        text = "\n".join(lines) + "\n" + textwrap.dedent(extra)
        path = tmp_path / "backupbot.toml"
        path.write_text(text)
        monkeypatch.setenv("BACKUPBOT_CONFIG", str(path))
        monkeypatch.setenv("BACKUPBOT_STATE_DIR", str(tmp_path / "state"))
        return path

    return write


@pytest.fixture(params=["sqlite", "postgresql"])
def state_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Runs a test once with the SQLite store and once with the store in a fresh PostgreSQL database.

    For "postgresql" BACKUPBOT_STATE_URL points at a database of the test's own (so
    every ``Store(...)`` and every subprocess it starts shares it), dropped afterwards.
    """
    if request.param == "sqlite":
        monkeypatch.delenv("BACKUPBOT_STATE_URL", raising=False)
        yield "sqlite"
        return
    with pg.temp_database("bbstate") as url:
        monkeypatch.setenv("BACKUPBOT_STATE_URL", url)
        yield "postgresql"
