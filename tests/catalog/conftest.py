"""The catalog at scale: a bucket of many backups of three databases behind a request counter.

Building a few thousand keys takes seconds, so the bucket is built once per module and the
tests that read it leave it as it is; tests that change the bucket build their own.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cli.main import main
from engine.manifest import Manifest
from engine.manifest_cache import CACHE_FILE, ManifestCache
from tests.support.catalog_fill import history, put_backups
from tests.support.s3count import CountingProxy
from tests.support.s3server import S3Server

NEWEST = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
DATABASES = ("prod", "staging", "dev")
PER_DATABASE = 300
EVERY = timedelta(hours=5)  # 300 backups span about two months: three month folders each


@pytest.fixture
def proxy(s3_server: S3Server) -> Iterator[CountingProxy]:
    p = CountingProxy(s3_server.endpoint_url)
    yield p
    p.stop()


def write_toml(folder: Path, bucket: str, endpoint: str, databases: tuple[str, ...] = DATABASES) -> Path:
    """A config whose state directory (folder/state) exists, so the CLI keeps a cache there."""
    body = "".join(
        f'\n[databases.{d}]\ndump_url_env = "{d.upper()}_DUMP_URL"\nrestore_url_env = "{d.upper()}_DUMP_URL"\n'
        for d in databases
    )
    path = folder / "backupbot.toml"
    path.write_text(
        textwrap.dedent(f"""\
            state_dir = "{folder / "state"}"

            [storage]
            url = "s3://{bucket}/backups"
            endpoint_url = "{endpoint}"
            region = "us-east-1"
            """)
        + body
    )
    (folder / "state").mkdir(exist_ok=True)
    return path


@dataclass
class Catalog:
    """A bucket, a config pointing at it through ``proxy``, and the backups it holds."""

    config: Path
    proxy: CountingProxy
    bucket: str
    manifests: list[Manifest]

    @property
    def cache_file(self) -> Path:
        return self.config.parent / "state" / CACHE_FILE

    def drop_cache(self) -> None:
        ManifestCache(self.cache_file).clear()

    def run(self, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
        """``backupbot --config … ARGV --json`` in-process; (exit code, parsed stdout, stderr), counted."""
        capsys.readouterr()
        self.proxy.reset()
        code = main(["--config", str(self.config), *argv, "--json"])
        out = capsys.readouterr()
        return code, json.loads(out.out) if out.out.strip() else None, out.err

    def newest(self, database: str) -> Manifest:
        return max((m for m in self.manifests if m.database == database), key=lambda m: m.created_at)


@pytest.fixture(scope="module")
def big(s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Catalog]:
    proxy = CountingProxy(s3_server.endpoint_url)
    bucket = s3_server.new_bucket()
    manifests = history(DATABASES, PER_DATABASE, NEWEST, EVERY)
    put_backups(s3_server.client(), bucket, "backups/", manifests)
    folder = tmp_path_factory.mktemp("catalog")
    yield Catalog(write_toml(folder, bucket, proxy.endpoint_url), proxy, bucket, manifests)
    proxy.stop()
