"""Faults that happen at 3 a.m.: pg_dump dies, storage answers 5xx for a while or for good."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import ConfigWriter
from tests.engine.conftest import FaultProxy, fake_pg_dump, run_cli, s3_setup
from tests.support import pg
from tests.support.s3server import S3Server


def assert_nothing_left(s3_server: S3Server, bucket: str) -> None:
    """What a user checks after a failed dump: nothing listed, no objects, no open multipart upload."""
    listed = run_cli("--json", "list")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == []
    client = s3_server.client()
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert client.list_objects_v2(Bucket=bucket, Prefix="backups/db/").get("KeyCount", 0) == 0


def test_pg_dump_killed_midway_aborts_upload(
    tmp_path: Path,
    write_config: ConfigWriter,
    s3_server: S3Server,
    s3_bucket: str,
    fault_proxy: FaultProxy,
    realistic_db: str,
    backup_key: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 12 MB of incompressible output, so two 5 MB parts are already uploading when it dies.
    fake_pg_dump(
        tmp_path / "bin",
        "out = sys.stdout.buffer\n"
        "for _ in range(12):\n"
        "    out.write(os.urandom(1024 * 1024))\n"
        "out.flush()\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n",
    )
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    s3_setup(write_config, s3_server, s3_bucket, realistic_db, "part_size_mb = 5", fault_proxy.endpoint_url)

    proc = run_cli("dump", "--database", "app")
    assert proc.returncode != 0
    assert "pg_dump of database 'app' was killed by signal 9" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert fault_proxy.upload_parts >= 2  # the multipart upload really was under way
    assert_nothing_left(s3_server, s3_bucket)


def test_pg_dump_error_output_is_redacted(
    tmp_path: Path,
    write_config: ConfigWriter,
    s3_server: S3Server,
    s3_bucket: str,
    realistic_db: str,
    backup_key: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_pg_dump(
        tmp_path / "bin",
        "sys.stderr.write('pg_dump: error: connection failed for ' + ' '.join(sys.argv[1:]) + ' password='\n"
        "                 + os.environ.get('PGPASSWORD', '') + '\\n')\n"
        "sys.exit(1)\n",
    )
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    secret_url = realistic_db.replace("postgres@", "postgres:Sup3rSecretPw@")
    s3_setup(write_config, s3_server, s3_bucket, secret_url)

    proc = run_cli("dump", "--database", "app")
    assert proc.returncode != 0
    assert "pg_dump of database 'app' exited with status 1" in proc.stderr
    assert "connection failed" in proc.stderr
    assert "Sup3rSecretPw" not in proc.stderr + proc.stdout
    assert_nothing_left(s3_server, s3_bucket)


def test_transient_5xx_mid_upload_is_retried(
    tmp_path: Path,
    write_config: ConfigWriter,
    s3_server: S3Server,
    s3_bucket: str,
    fault_proxy: FaultProxy,
    bulky_db: str,
    backup_key: str,
) -> None:
    s3_setup(write_config, s3_server, s3_bucket, bulky_db, "part_size_mb = 5", fault_proxy.endpoint_url)
    fault_proxy.fail_parts = 3

    proc = run_cli("--json", "dump", "--database", "app", check=True)
    manifest = json.loads(proc.stdout)
    assert fault_proxy.failed == 3
    assert fault_proxy.upload_parts >= 3 + 3  # every part eventually went through
    assert s3_server.client().list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []

    out = tmp_path / "plain.dump"
    run_cli("decrypt", manifest["id"], "-o", str(out), check=True)
    with pg.temp_database("bbrestore") as target:
        import subprocess

        subprocess.run(["pg_restore", "--no-owner", f"--dbname={target}", str(out)], check=True)
        assert pg.table_checksums(target) == pg.table_checksums(bulky_db)


def test_storage_failing_for_good_is_a_clean_failure(
    write_config: ConfigWriter,
    s3_server: S3Server,
    s3_bucket: str,
    fault_proxy: FaultProxy,
    bulky_db: str,
    backup_key: str,
) -> None:
    s3_setup(
        write_config,
        s3_server,
        s3_bucket,
        bulky_db,
        "part_size_mb = 5\nmax_attempts = 2",
        fault_proxy.endpoint_url,
    )
    fault_proxy.fail_parts = -1

    proc = run_cli("dump", "--database", "app")
    assert proc.returncode != 0
    assert "backup of database 'app' failed: storage kept failing to upload" in proc.stderr
    assert "Nothing was recorded" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert_nothing_left(s3_server, s3_bucket)
