"""What a pipeline sees when something is wrong before the dump starts: one clear message, non-zero exit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapters import postgres
from core.errors import PreflightError
from tests.conftest import ConfigWriter
from tests.engine.conftest import fake_pg_dump, run_cli, s3_setup
from tests.support.s3server import S3Server


def one_message(proc_stderr: str) -> None:
    assert proc_stderr.startswith("ERROR: ") and proc_stderr.count("ERROR: ") == 1
    assert "Traceback" not in proc_stderr and "HINT: " in proc_stderr


def test_bad_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backup_key: str) -> None:
    cfg = tmp_path / "backupbot.toml"
    cfg.write_text('[storage]\nurl = "s3://b/p"\nregon = "us-east-1"\n')
    monkeypatch.setenv("BACKUPBOT_CONFIG", str(cfg))
    proc = run_cli("dump", "--database", "app")
    assert proc.returncode == 2
    one_message(proc.stderr)
    assert "unknown setting 'regon'" in proc.stderr and str(cfg) in proc.stderr and "region" in proc.stderr


def test_unknown_database_and_json_error(
    write_config: ConfigWriter, s3_server: S3Server, s3_bucket: str, pg_db: str, backup_key: str
) -> None:
    s3_setup(write_config, s3_server, s3_bucket, pg_db)
    proc = run_cli("--json", "dump", "--database", "ap")
    assert proc.returncode == 2
    assert json.loads(proc.stdout)["error"] == "ConfigError"
    assert "unknown database 'ap'" in proc.stderr and "Did you mean 'app'" in proc.stderr


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://postgres:Hunter2Secret@127.0.0.1:1/app",  # nothing listens
        "postgresql://postgres:Hunter2Secret@localhost:5432/no_such_db_bb",  # server answers: no such db
    ],
)
def test_unreachable_database(
    url: str, write_config: ConfigWriter, s3_server: S3Server, s3_bucket: str, backup_key: str
) -> None:
    s3_setup(write_config, s3_server, s3_bucket, url)
    proc = run_cli("dump", "--database", "app")
    assert proc.returncode == 1
    one_message(proc.stderr)
    assert "database 'app' does not answer" in proc.stderr
    assert "Hunter2Secret" not in proc.stderr + proc.stdout
    assert s3_server.client().list_objects_v2(Bucket=s3_bucket).get("KeyCount", 0) == 0


def test_missing_key(
    write_config: ConfigWriter,
    s3_server: S3Server,
    s3_bucket: str,
    pg_db: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("BACKUPBOT_KEY", raising=False)
    s3_setup(write_config, s3_server, s3_bucket, pg_db)
    proc = run_cli("dump", "--database", "app")
    assert proc.returncode == 2
    one_message(proc.stderr)
    assert "BACKUPBOT_KEY" in proc.stderr and "backupbot keygen" in proc.stderr
    assert s3_server.client().list_objects_v2(Bucket=s3_bucket).get("KeyCount", 0) == 0


def test_missing_bucket_fails_preflight_with_hint(
    write_config: ConfigWriter, s3_server: S3Server, pg_db: str, backup_key: str
) -> None:
    s3_setup(write_config, s3_server, "bb-does-not-exist", pg_db)
    proc = run_cli("dump", "--database", "app")
    assert proc.returncode == 1
    one_message(proc.stderr)
    assert "NoSuchBucket" in proc.stderr and "Create the bucket or fix [storage] url" in proc.stderr


def test_pg_dump_older_than_server_names_both(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = fake_pg_dump(tmp_path / "bin", "")
    fake.write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 13.9'\n")
    monkeypatch.setattr(postgres.shutil, "which", lambda _name: str(fake))
    monkeypatch.setattr(postgres, "PG_LIB_DIR", str(tmp_path / "none"))
    with pytest.raises(PreflightError) as err:
        postgres.find_pg_dump(15, "prod", "15.20")
    assert "pg_dump 13.9 is older than the server of database 'prod' (15.20)" in err.value.message
    assert "postgresql-client-15" in (err.value.hint or "")


@pytest.mark.parametrize(
    "url",
    [
        "postgres//postgres:Hunter2Secret@localhost:5432/app",  # "://" typed as "//"
        "postgresql:/postgres:Hunter2Secret@localhost:5432/app",  # one slash
        "not a url Hunter2Secret",
    ],
)
def test_malformed_database_url(
    url: str, write_config: ConfigWriter, s3_server: S3Server, s3_bucket: str, backup_key: str
) -> None:
    """A mistyped URL is named as one, and its password (parsed as a path) never shows."""
    s3_setup(write_config, s3_server, s3_bucket, url)
    proc = run_cli("dump", "--database", "app")
    assert proc.returncode == 1
    one_message(proc.stderr)
    assert "the connection URL of database 'app' cannot be parsed" in proc.stderr
    assert "Hunter2Secret" not in proc.stderr + proc.stdout
