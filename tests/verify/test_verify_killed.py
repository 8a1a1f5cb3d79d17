"""A verification killed mid-restore leaves a scratch database; the next start drops it and passes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.restore_plan import staging_dir
from engine.verify import verify_backup
from jobs.scratch_book import StoreScratchBook
from jobs.store import Store
from tests.conftest import ConfigWriter
from tests.support.s3server import S3Server
from tests.verify.conftest import scratch_databases
from tests.verify.slow import kill_mid_restore, slow_backup

pytestmark = pytest.mark.usefixtures("state_backend")  # the scratch book on SQLite and PostgreSQL

REPO = Path(__file__).resolve().parents[2]


def test_killed_verify_leaves_nothing_after_the_next_start(
    s3_server: S3Server,
    s3_bucket: str,
    write_config: ConfigWriter,
    backup_key: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with slow_backup("bbvkill", s3_server, s3_bucket, write_config, monkeypatch, customers=20) as (
        cfg,
        backup,
    ):
        book = StoreScratchBook(Store.for_config(cfg))
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli", "verify", backup.id],
            cwd=REPO,
            env=dict(os.environ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        name = kill_mid_restore(proc, lambda: next((r.name for r in book.all()), ""))
        assert name in scratch_databases()  # what a killed run leaves behind
        staged = list(Path(staging_dir(cfg)).glob("scratch-*.dump"))
        assert len(staged) == 1  # and its staged dump

        report = verify_backup(cfg, backup, book)
        assert report.passed
        assert name not in scratch_databases()
        assert report.scratch not in scratch_databases()
        assert book.all() == []
        assert list(Path(staging_dir(cfg)).glob("scratch-*.dump")) == []
        assert report.tables["public.slow_rows"] == {"restored": 300, "recorded": 300}
