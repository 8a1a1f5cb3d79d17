"""Fixtures for the backup engine: S3 behind a fault-injecting proxy, bulky databases, the CLI as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from core.config import Config, load_config
from tests.conftest import ConfigWriter
from tests.support import pg
from tests.support.s3proxy import S3Proxy, s3_error
from tests.support.s3server import S3Server

REPO = Path(__file__).resolve().parents[2]


class FaultProxy(S3Proxy):
    """An HTTP proxy in front of moto that answers 500 to UploadPart requests on demand.

    ``fail_parts`` is how many UploadPart requests still get a 500 (-1: all of them);
    every other request is forwarded unchanged, so aborts and completes reach the server.
    """

    def __init__(self, upstream: str) -> None:
        self.fail_parts = 0
        self.failed = 0
        self.upload_parts = 0
        self.lock = threading.Lock()
        super().__init__(upstream)

    def intercept(self, command: str, query: dict[str, list[str]]) -> tuple[int, bytes] | None:
        if not (command == "PUT" and "partNumber" in query and "uploadId" in query):
            return None
        with self.lock:
            self.upload_parts += 1
            fail = self.fail_parts != 0
            if self.fail_parts > 0:
                self.fail_parts -= 1
            if fail:
                self.failed += 1
        return (500, s3_error("InternalError", "injected failure")) if fail else None


@pytest.fixture
def fault_proxy(s3_server: S3Server) -> Iterator[FaultProxy]:
    proxy = FaultProxy(s3_server.endpoint_url)
    yield proxy
    proxy.stop()


@dataclass
class Setup:
    cfg_path: Path
    bucket: str | None  # None for file://
    db_url: str
    store: Path | None = None

    @property
    def cfg(self) -> Config:
        return load_config(str(self.cfg_path))


def s3_setup(
    write_config: ConfigWriter,
    s3_server: S3Server,
    bucket: str,
    db_url: str,
    storage_extra: str = "",
    endpoint: str = "",
) -> Setup:
    """A config for S3 at ``endpoint`` (default: moto directly); ``storage_extra`` lines go under [storage]."""
    path = write_config(
        f"s3://{bucket}/backups", {"app": db_url}, endpoint_url=endpoint or s3_server.endpoint_url
    )
    if storage_extra:
        text = path.read_text().replace("[storage]\n", "[storage]\n" + storage_extra.strip() + "\n", 1)
        path.write_text(text)
    return Setup(path, bucket, db_url)


def file_setup(write_config: ConfigWriter, store: Path, db_url: str) -> Setup:
    path = write_config(store.as_uri(), {"app": db_url})
    return Setup(path, None, db_url, store)


def fake_pg_dump(bin_dir: Path, body: str) -> Path:
    """A ``pg_dump`` first on PATH: answers --version like the real one, then runs ``body`` (Python)."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    exe = bin_dir / "pg_dump"
    exe.write_text(
        f"#!{sys.executable}\n"
        "import os, signal, sys\n"
        "if '--version' in sys.argv:\n"
        "    os.execv('/usr/bin/pg_dump', ['pg_dump', '--version'])\n" + body
    )
    exe.chmod(0o755)
    return exe


@pytest.fixture(scope="module")
def bulky_db() -> Iterator[str]:
    """~12 MB of random bytea, so the compressed dump spans several 5 MB parts."""
    with pg.temp_database("bbbulk") as url:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE blobs (id int PRIMARY KEY, data bytea NOT NULL)")
            conn.execute(
                "INSERT INTO blobs SELECT i, (SELECT decode(string_agg(md5(random()::text || i || g), ''), 'hex') "
                "FROM generate_series(1, 65536) g) FROM generate_series(1, 12) i"
            )
        yield url


def run_cli(
    *args: str, env: dict[str, str] | None = None, check: bool = False
) -> subprocess.CompletedProcess[str]:
    """The CLI as a pipeline runs it: a separate process, environment only."""
    proc = subprocess.run(
        [sys.executable, "-m", "cli", *args],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"backupbot {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


def run_cli_bytes(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        capture_output=True,
        timeout=120,
        check=False,
    )
