"""S3-compatible stores without server-side encryption refuse the SSE header (MinIO without a KMS
answers 501 NotImplemented). The store here is the local S3 server behind a proxy that answers
exactly that to any request carrying the header; everything else reaches the real server."""

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
from tests.support.s3proxy import S3Proxy, s3_error
from tests.support.s3server import S3Server

BIN = Path(sys.executable).parent


class NoSSE(S3Proxy):
    def intercept_request(self, command: str, query: dict[str, list[str]], headers: dict[str, str]) -> Any:
        if "x-amz-server-side-encryption" in headers:
            return 501, s3_error(
                "NotImplemented", "Server side encryption specified but KMS is not configured"
            )
        return None


@pytest.fixture
def no_sse(s3_server: S3Server) -> Iterator[NoSSE]:
    proxy = NoSSE(s3_server.endpoint_url)
    yield proxy
    proxy.stop()


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "backupbot"), *args], env=env, capture_output=True, text=True, timeout=120
    )


def setup(tmp: Path, endpoint: str, bucket: str, db: str, key: str, sse: str) -> dict[str, str]:
    config = tmp / f"backupbot-{sse}.toml"
    config.write_text(
        textwrap.dedent(
            f"""
            [storage]
            url = "s3://{bucket}/bb"
            endpoint_url = "{endpoint}"
            region = "us-east-1"
            sse = "{sse}"

            [databases.app]
            dump_url_env = "APP_URL"
            restore_url_env = "APP_URL"
            migrate = []
            """
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "SLACK_", "BACKUPBOT_"))}
    env.update(
        {
            "BACKUPBOT_CONFIG": str(config),
            "BACKUPBOT_STATE_DIR": str(tmp / "state"),
            "BACKUPBOT_KEY": key,
            "APP_URL": db,
        }
    )
    return env


def checks(out: str) -> dict[str, dict[str, Any]]:
    return {f"{c['area']}: {c['name']}": c for c in json.loads(out)["checks"]}


def test_sse_none_works_where_the_header_is_refused_and_doctor_says_so(
    tmp_path: Path, no_sse: NoSSE, s3_server: S3Server, realistic_db: str, backup_key: str
) -> None:
    bucket = s3_server.new_bucket()
    refused = setup(tmp_path, no_sse.endpoint_url, bucket, realistic_db, backup_key, "AES256")
    dump = run(refused, "dump")
    assert dump.returncode != 0 and "NotImplemented" in dump.stderr and 'sse = "none"' in dump.stderr
    doctor = run(refused, "doctor", "--json")
    assert doctor.returncode == 1
    failed = {k: c for k, c in checks(doctor.stdout).items() if c["status"] == "fail"}
    assert list(failed) == ["storage: write with sse = 'AES256'"]
    assert "it accepts: 'none'" in failed["storage: write with sse = 'AES256'"]["detail"]
    assert "sse = 'none'" in failed["storage: write with sse = 'AES256'"]["fix"]

    plain = setup(tmp_path, no_sse.endpoint_url, bucket, realistic_db, backup_key, "none")
    doctor = run(plain, "doctor", "--json")
    assert doctor.returncode == 0, doctor.stdout
    sse = checks(doctor.stdout)["storage: server-side encryption"]
    assert (
        sse["status"] == "ok"
        and "the endpoint accepts 'none'" in sse["detail"]
        and "AES256" not in sse["detail"]
    )
    dump = run(plain, "dump", "--json")
    assert dump.returncode == 0, dump.stderr
    manifest = json.loads(dump.stdout)
    # client-side encryption still applies: the stored object is ours, encrypted, and restores
    stored = s3_server.client().get_object(Bucket=bucket, Key=f"bb/{manifest['key']}")
    assert stored["Body"].read(len(MAGIC)) == MAGIC and "ServerSideEncryption" not in stored
    with pg.temp_database("bbsse") as target:
        restore_env = {**plain, "APP_URL": target}
        done = run(
            restore_env, "restore", manifest["id"], "--target", "app", "--break-glass", "--reason", "sse none"
        )
        assert done.returncode == 0, done.stderr
        assert pg.table_checksums(target) == pg.table_checksums(realistic_db)


def test_doctor_on_moto_says_both_are_accepted(
    tmp_path: Path, s3_server: S3Server, realistic_db: str, backup_key: str
) -> None:
    env = setup(tmp_path, s3_server.endpoint_url, s3_server.new_bucket(), realistic_db, backup_key, "none")
    doctor = run(env, "doctor", "--json")
    assert doctor.returncode == 0, doctor.stdout
    assert (
        "the endpoint accepts 'AES256' and 'none'"
        in checks(doctor.stdout)["storage: server-side encryption"]["detail"]
    )
