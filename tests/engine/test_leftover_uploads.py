"""An abort that could not reach the storage is said, and the leftover is found and removed by prune."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ConfigWriter
from tests.engine.conftest import run_cli, s3_setup
from tests.support.s3proxy import S3Proxy, s3_error
from tests.support.s3server import S3Server


class UnreachableForParts(S3Proxy):
    """Storage that stops answering once an upload is under way: parts and aborts get 503."""

    def __init__(self, upstream: str) -> None:
        self.failing = True
        self.aborts_refused = 0
        self.lock = threading.Lock()
        super().__init__(upstream)

    def intercept(self, command: str, query: dict[str, list[str]]) -> tuple[int, bytes] | None:
        in_upload = "uploadId" in query and command in ("PUT", "DELETE")
        if not (self.failing and in_upload):
            return None
        with self.lock:
            self.aborts_refused += command == "DELETE"
        return 503, s3_error("ServiceUnavailable", "injected outage")


@pytest.fixture
def outage(s3_server: S3Server) -> Iterator[UnreachableForParts]:
    proxy = UnreachableForParts(s3_server.endpoint_url)
    yield proxy
    proxy.stop()


def open_uploads(s3_server: S3Server, bucket: str) -> list[str]:
    return [u["Key"] for u in s3_server.client().list_multipart_uploads(Bucket=bucket).get("Uploads", [])]


def test_failed_abort_is_said_and_prune_removes_the_leftover(
    write_config: ConfigWriter,
    s3_server: S3Server,
    s3_bucket: str,
    outage: UnreachableForParts,
    bulky_db: str,
    backup_key: str,
) -> None:
    s3_setup(
        write_config,
        s3_server,
        s3_bucket,
        bulky_db,
        "part_size_mb = 5\nmax_attempts = 1",
        outage.endpoint_url,
    )
    proc = run_cli("dump", "--database", "app")
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert outage.aborts_refused >= 1
    assert "the partial upload was aborted" not in proc.stderr
    assert "could NOT be aborted" in proc.stderr and "backupbot prune --confirm" in proc.stderr
    [left] = open_uploads(s3_server, s3_bucket)
    assert left.startswith("backups/db/app/")
    assert json.loads(run_cli("--json", "list", check=True).stdout) == []  # nothing half-listed

    outage.failing = False
    # moto reports every upload as started in 2010, so on S3 it is "older than a day" at once;
    # the age rule itself is checked on a folder store below.
    dry = run_cli("prune", check=True)
    assert "would abort" in dry.stdout and left.removeprefix("backups/") in dry.stdout
    assert "nothing was aborted" in dry.stdout and open_uploads(s3_server, s3_bucket) == [left]
    done = json.loads(run_cli("--json", "prune", "--confirm", check=True).stdout)
    assert [(u["key"], u["action"]) for u in done["stale_uploads"]] == [
        (left.removeprefix("backups/"), "aborted")
    ]
    assert open_uploads(s3_server, s3_bucket) == []


def test_only_uploads_older_than_a_day_are_leftovers(
    tmp_path: Path, write_config: ConfigWriter, pg_db: str, backup_key: str
) -> None:
    store = tmp_path / "store"
    write_config(store.as_uri(), {"app": pg_db})
    folder = store / "db/app/2026/01"
    folder.mkdir(parents=True)
    old = folder / ".partial-app-20260101T000000Z-manual-0aaa.dump.zst.enc.1234abcd"
    young = folder / ".partial-app-20260101T000001Z-manual-0aab.dump.zst.enc.5678abcd"
    for f in (old, young):
        f.write_bytes(b"part")
    day_and_a_bit = time.time() - 25 * 3600
    os.utime(old, (day_and_a_bit, day_and_a_bit))
    dry = json.loads(run_cli("--json", "prune", check=True).stdout)
    assert [u["key"] for u in dry["stale_uploads"]] == [
        "db/app/2026/01/app-20260101T000000Z-manual-0aaa.dump.zst.enc"
    ]
    run_cli("prune", "--confirm", check=True)
    assert not old.exists() and young.exists()  # the young one may be a dump running right now
