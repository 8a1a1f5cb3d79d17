"""A source database with a real backup in the local S3 server, and a verification server.

The verification server is the local PostgreSQL (its maintenance database ``postgres``);
scratch databases appear and disappear on it, and tests look for them in ``pg_database``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from adapters.storage import Storage, open_storage
from core.config import Config, load_config
from engine.dump import run_dump
from engine.manifest import Manifest
from jobs.scratch_book import StoreScratchBook
from jobs.store import Store
from tests.conftest import ConfigWriter
from tests.support import pg
from tests.support.s3server import S3Server

VERIFY = """
[verify]
url_env = "BACKUPBOT_VERIFY_URL"
"""


def scratch_databases() -> set[str]:
    with psycopg.connect(pg.ADMIN_URL, autocommit=True) as conn:
        rows = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'backupbot\\_scratch\\_%'")
        return {r[0] for r in rows}


def own_scratch_databases() -> set[str]:
    """Scratch databases this test process made (named after its pid when no job runs them).

    Other test runs on the same server make scratch databases of their own at any moment, so a
    check that nothing was left behind looks only at this process's.
    """
    return {name for name in scratch_databases() if name.startswith(f"backupbot_scratch_p{os.getpid()}_")}


@dataclass
class VerifyScene:
    cfg_path: Path
    source_url: str
    backup: Manifest

    @property
    def cfg(self) -> Config:
        return load_config(str(self.cfg_path))

    def storage(self) -> Storage:
        return open_storage(self.cfg.storage)

    def book(self) -> StoreScratchBook:
        return StoreScratchBook(Store.for_config(self.cfg))

    def rewrite_manifest(self, change: dict) -> Manifest:  # type: ignore[type-arg]
        """Edit the stored manifest's recorded contents (what a damaged or lying backup looks like)."""
        storage = self.storage()
        data = json.loads(storage.get_bytes(self.backup.manifest_key))
        for path, value in change.items():
            node = data
            *parents, last = path.split("/")
            for p in parents:
                node = node[p]
            node[last] = value
        storage.put_bytes(self.backup.manifest_key, json.dumps(data).encode(), "application/json")
        return Manifest.from_dict(data)


@pytest.fixture
def verify_scene(
    s3_server: S3Server,
    s3_bucket: str,
    write_config: ConfigWriter,
    backup_key: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[VerifyScene]:
    monkeypatch.setenv("BACKUPBOT_VERIFY_URL", pg.ADMIN_URL)
    with pg.temp_database("bbvsrc") as source:
        pg.fill_realistic(source, customers=150, invoices_per_customer=3)
        path = write_config(
            f"s3://{s3_bucket}/bb", {"app": source}, extra=VERIFY, endpoint_url=s3_server.endpoint_url
        )
        backup = run_dump(load_config(str(path)), "app", reason="verify test")
        yield VerifyScene(path, source, backup)


# The in-process bot of the schedule tests (store, Slack reporter → fake Slack, runner).
from tests.scheduler.conftest import fake_slack, make_bot  # noqa: E402, F401
