"""A restore scene: a source database with a backup in S3, a target that holds something else,
and maintenance / migrate hooks that are small scripts appending to one log file, so a test
reads back what ran and in which order."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from core.config import Config, load_config
from engine.dump import run_dump
from engine.manifest import Manifest
from jobs.store import Store
from tests.support import pg
from tests.support.s3server import S3Server

HOOK = """\
import os, sys
with open(os.environ["HOOK_LOG"], "a") as fh:
    fh.write(" ".join(sys.argv[1:]) + "\\n")
sys.exit(int(os.environ.get("HOOK_FAIL_" + sys.argv[1].replace("-", "_").upper(), "0")))
"""


@dataclass
class Scene:
    tmp: Path
    cfg_path: Path
    bucket: str
    source_url: str
    target_url: str
    hook_log: Path
    runbook_file: Path
    backup: Manifest
    target_before: dict[str, tuple[int, str]]

    @property
    def cfg(self) -> Config:
        return load_config(str(self.cfg_path))

    def store(self) -> Store:
        return Store.for_config(self.cfg)

    def hook_calls(self) -> list[str]:
        return self.hook_log.read_text().splitlines() if self.hook_log.exists() else []


def write_restore_config(
    tmp: Path,
    bucket: str,
    endpoint: str,
    source_url: str,
    target_url: str,
    monkeypatch: pytest.MonkeyPatch,
    target_extra: str = "",
    method: str = "clean",
) -> Path:
    hook = tmp / "hook.py"
    hook.write_text(HOOK)
    py = sys.executable
    for name, url in (("APP", source_url), ("STAGING", target_url)):
        monkeypatch.setenv(f"{name}_DUMP_URL", url)
        monkeypatch.setenv(f"{name}_RESTORE_URL", url)
    text = f"""
[storage]
url = "s3://{bucket}/bb"
endpoint_url = "{endpoint}"
region = "us-east-1"

[slack]
channel = "C0BACKUPS"

[runner]
approval_timeout_minutes = 30
staging_dir = "{tmp / "staging"}"

[databases.app]
dump_url_env = "APP_DUMP_URL"
restore_url_env = "APP_RESTORE_URL"
migrate = []

[databases.staging]
dump_url_env = "STAGING_DUMP_URL"
restore_url_env = "STAGING_RESTORE_URL"
approvers = ["U0LEAD1", "U0LEAD2"]
maintenance_on = ["{py}", "{hook}", "maint-on"]
maintenance_off = ["{py}", "{hook}", "maint-off"]
migrate = ["{py}", "{hook}", "migrate"]
migrate_cwd = "{tmp}"
health_checks = ["select count(*) > 0 from customers", "select 1 from invoices limit 1"]
runbook_file = "{tmp / "RUNBOOK.md"}"
hook_timeout_seconds = 60
restore_method = "{method}"
{target_extra}
"""
    path = tmp / "backupbot.toml"
    path.write_text(text)
    monkeypatch.setenv("BACKUPBOT_CONFIG", str(path))
    monkeypatch.setenv("BACKUPBOT_STATE_DIR", str(tmp / "state"))
    monkeypatch.setenv("HOOK_LOG", str(tmp / "hooks.log"))
    return path


def make_target(url: str) -> None:
    """Same schema as the source, other rows, and a row the backup does not have."""
    pg.fill_realistic(url, customers=30, invoices_per_customer=2)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute('INSERT INTO audit_log (event) VALUES (\'{"kind": "written after the backup"}\')')


@pytest.fixture
def scene(
    tmp_path: Path, s3_server: S3Server, s3_bucket: str, backup_key: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Scene]:
    with pg.temp_database("bbsrc") as source, pg.temp_database("bbtgt") as target:
        pg.fill_realistic(source, customers=120, invoices_per_customer=3)
        make_target(target)
        path = write_restore_config(tmp_path, s3_bucket, s3_server.endpoint_url, source, target, monkeypatch)
        cfg = load_config(str(path))
        backup = run_dump(cfg, "app", kind="manual", reason="test backup", requested_by="U0DEV")
        yield Scene(
            tmp=tmp_path,
            cfg_path=path,
            bucket=s3_bucket,
            source_url=source,
            target_url=target,
            hook_log=tmp_path / "hooks.log",
            runbook_file=tmp_path / "RUNBOOK.md",
            backup=backup,
            target_before=pg.table_checksums(target),
        )
