"""The ordinary dump / list / restore path and sse = "none" against s3rver, an S3 server written
apart from moto (Node.js; installed by the project into .tools/, see tests/support/s3rver.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.crypto import MAGIC
from tests.support import pg
from tests.support.s3rver import ACCESS_KEY, SECRET_KEY, NotInstallable, S3rver, start_s3rver

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def s3rver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3rver]:
    try:
        server = start_s3rver(tmp_path_factory.mktemp("s3rver"))
    except NotInstallable as exc:
        pytest.skip(f"s3rver cannot be installed here: {exc}")
    yield server
    server.stop()


def setup(
    tmp: Path, server: S3rver, bucket: str, sse: str, key: str, dump_url: str, restore_url: str
) -> dict[str, str]:
    config = tmp / f"backupbot-{sse}.toml"
    config.write_text(
        textwrap.dedent(
            f"""
            [storage]
            url = "s3://{bucket}/bb"
            endpoint_url = "{server.endpoint_url}"
            region = "us-east-1"
            sse = "{sse}"

            [databases.app]
            dump_url_env = "APP_URL"
            restore_url_env = "APP_RESTORE_URL"
            migrate = []
            """
        )
    )
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "SLACK_", "BACKUPBOT_", "AWS_"))
    }
    env.update(
        {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "BACKUPBOT_CONFIG": str(config),
            "BACKUPBOT_STATE_DIR": str(tmp / "state"),
            "BACKUPBOT_KEY": key,
            "APP_URL": dump_url,
            "APP_RESTORE_URL": restore_url,
        }
    )
    return env


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "backupbot"), *args], env=env, capture_output=True, text=True, timeout=180
    )


def checks(out: str) -> dict[str, dict[str, Any]]:
    return {f"{c['area']}: {c['name']}": c for c in json.loads(out)["checks"]}


def test_dump_list_restore_on_s3rver_with_sse_none(
    tmp_path: Path, s3rver: S3rver, realistic_db: str, backup_key: str
) -> None:
    bucket = s3rver.new_bucket()
    with pg.temp_database("bbs3rver") as target:
        env = setup(tmp_path, s3rver, bucket, "none", backup_key, realistic_db, target)
        doctor = run(env, "doctor", "--json")
        assert doctor.returncode == 0, doctor.stdout
        sse = checks(doctor.stdout)["storage: server-side encryption"]
        assert sse["status"] == "ok"
        assert "the endpoint accepts 'AES256' (taken, not applied) and 'none'" in sse["detail"]

        dump = run(env, "dump", "--json")
        assert dump.returncode == 0, dump.stderr
        manifest = json.loads(dump.stdout)
        listed = run(env, "list", "--json")
        assert listed.returncode == 0 and manifest["id"] in [b["id"] for b in json.loads(listed.stdout)]
        stored = s3rver.client().get_object(Bucket=bucket, Key=f"bb/{manifest['key']}")
        assert stored["Body"].read(len(MAGIC)) == MAGIC, (
            "client-side AES-256-GCM applies whatever the store does"
        )

        done = run(env, "restore", manifest["id"], "--target", "app", "--break-glass", "--reason", "s3rver")
        assert done.returncode == 0, done.stderr
        assert pg.table_checksums(target) == pg.table_checksums(realistic_db)


def test_doctor_warns_when_s3rver_takes_aes256_but_stores_plain(
    tmp_path: Path, s3rver: S3rver, pg_db: str, backup_key: str
) -> None:
    env = setup(tmp_path, s3rver, s3rver.new_bucket(), "AES256", backup_key, pg_db, pg_db)
    doctor = run(env, "doctor", "--json")
    sse = checks(doctor.stdout)["storage: server-side encryption"]
    assert sse["status"] == "warn", sse
    assert "asked for AES256, the object says none" in sse["detail"]
    assert 'sse = "none"' in sse["fix"]


def test_multipart_upload_on_s3rver(
    tmp_path: Path, s3rver: S3rver, write_config: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from adapters.storage import open_storage
    from core.config import load_config

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    bucket = s3rver.new_bucket()
    path = write_config(f"s3://{bucket}/bb", endpoint_url=s3rver.endpoint_url)
    path.write_text(path.read_text().replace("[storage]", '[storage]\npart_size_mb = 5\nsse = "none"'))
    storage = open_storage(load_config(str(path)).storage)
    data = os.urandom(11 * 1024 * 1024)  # three parts: 5 + 5 + 1 MiB
    result = storage.put_stream(
        "db/app/big.dump.zst.enc", [data[i : i + 65536] for i in range(0, len(data), 65536)]
    )
    assert result.size == len(data)
    assert storage.get_bytes("db/app/big.dump.zst.enc") == data
