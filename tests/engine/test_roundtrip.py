"""A realistic database goes into the bucket encrypted and comes back, row for row, through plain pg_restore."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from adapters.storage import open_storage
from engine.catalog import delete_backup, get_backup, list_backups
from engine.dump import Progress, run_dump
from tests.conftest import ConfigWriter
from tests.engine.conftest import run_cli, run_cli_bytes, s3_setup
from tests.support import pg
from tests.support.s3server import S3Server


def restore_and_compare(dump_file: Path, source_url: str) -> None:
    with pg.temp_database("bbrestore") as target:
        subprocess.run(
            ["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={target}", str(dump_file)],
            check=True,
            capture_output=True,
        )
        assert pg.table_checksums(target) == pg.table_checksums(source_url)
        with psycopg.connect(target) as conn:  # the view and the sequence came back too
            assert conn.execute("SELECT count(*) FROM customer_totals").fetchone()[0] == 200  # type: ignore[index]
            assert conn.execute("SELECT last_value FROM invoice_number_seq").fetchone()[0] >= 1999  # type: ignore[index]


def test_s3_dump_decrypt_restore(
    tmp_path: Path,
    write_config: ConfigWriter,
    s3_server: S3Server,
    s3_bucket: str,
    realistic_db: str,
    backup_key: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with psycopg.connect(realistic_db, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE _prisma_migrations (id text PRIMARY KEY, migration_name text, finished_at timestamptz, "
            "rolled_back_at timestamptz)"
        )
        conn.execute(
            "INSERT INTO _prisma_migrations VALUES ('1', '20260101_init', '2026-01-01', NULL), "
            "('2', '20260301_add_invoices', '2026-03-01', NULL), ('3', '20260401_rolled_back', '2026-04-01', now())"
        )
    s3_setup(write_config, s3_server, s3_bucket, realistic_db)
    monkeypatch.setenv("GIT_SHA", "abc1234")

    proc = run_cli(
        "--json", "dump", "--database", "app", "--kind", "pre-migration", "--reason", "deploy 42", check=True
    )
    manifest = json.loads(proc.stdout)
    assert manifest["id"].startswith("app-") and "-pre-migration-" in manifest["id"]
    assert (
        manifest["key"]
        == f"db/app/{manifest['id'][4:8]}/{manifest['id'][8:10]}/{manifest['id']}.dump.zst.enc"
    )
    assert manifest["git_sha"] == "abc1234" and manifest["reason"] == "deploy 42"
    assert manifest["server_version"].startswith("15") and manifest["pg_dump_version"].startswith("15")
    assert manifest["table_count"] == 4
    assert manifest["migration_head"]["name"] == "20260301_add_invoices"
    assert manifest["encryption"]["algorithm"].startswith("AES-256-GCM")
    assert manifest["stored_bytes"] < manifest["dump_bytes"]
    assert backup_key not in proc.stdout + proc.stderr

    client = s3_server.client()
    full_key = f"backups/{manifest['key']}"
    assert client.head_object(Bucket=s3_bucket, Key=full_key)["ServerSideEncryption"] == "AES256"
    assert (
        client.head_object(Bucket=s3_bucket, Key=full_key.replace(".dump.zst.enc", ".manifest.json"))[
            "ServerSideEncryption"
        ]
        == "AES256"
    )
    body = client.get_object(Bucket=s3_bucket, Key=full_key)["Body"].read()
    assert b"PGDMP" not in body and b"Customer" not in body
    assert len(body) == manifest["stored_bytes"]

    listed = run_cli("list", "--json", check=True)  # --json after the subcommand works too
    assert [m["id"] for m in json.loads(listed.stdout)] == [manifest["id"]]
    text = run_cli("list", check=True).stdout
    assert manifest["id"] in text and "deploy 42" in text
    assert "20260301_add_invoices" in run_cli("show", manifest["id"][:12], check=True).stdout

    out = tmp_path / "restored.dump"
    run_cli("decrypt", manifest["id"], "-o", str(out), check=True)
    assert out.read_bytes()[:5] == b"PGDMP"
    restore_and_compare(out, realistic_db)


def test_file_store_dump_stdout_decrypt_and_catalog(
    tmp_path: Path, write_config: ConfigWriter, realistic_db: str, backup_key: str
) -> None:
    store = tmp_path / "store"
    path = write_config(store.as_uri(), {"app": realistic_db})
    from core.config import load_config

    cfg = load_config(str(path))
    seen: list[Progress] = []
    fixed = datetime(2026, 5, 1, 3, 0, tzinfo=UTC)
    first = run_dump(cfg, "app", kind="daily", requested_by="U123", on_progress=seen.append, now=fixed)
    second = run_dump(cfg, "app", kind="daily", now=fixed)  # same second: still a distinct backup
    assert first.id != second.id
    assert first.id.startswith("app-20260501T030000Z-daily-") and second.id.startswith(
        "app-20260501T030000Z-daily-"
    )
    assert seen and seen[-1].bytes_in == first.dump_bytes and seen[-1].bytes_out == first.stored_bytes
    assert first.git_sha is None  # only pre-event kinds record the deploy

    assert {m.id for m in list_backups(cfg, "app")} == {second.id, first.id}
    assert get_backup(cfg, "latest:app").id in {second.id, first.id}  # same created_at: either
    assert get_backup(cfg, first.id).requested_by == "U123"
    assert not list(store.rglob(".partial-*"))

    proc = run_cli_bytes("decrypt", first.id)  # to stdout, as in `backupbot decrypt ID | pg_restore`
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "plain.dump"
    out.write_bytes(proc.stdout)
    restore_and_compare(out, realistic_db)

    delete_backup(cfg, first)
    assert [m.id for m in list_backups(cfg)] == [second.id]
    assert not open_storage(cfg.storage).exists(first.key)
