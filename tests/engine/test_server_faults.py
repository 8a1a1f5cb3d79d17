"""Faults of the parts around a dump: PostgreSQL restarted or the database dropped mid-dump, S3 down.

Each ends the same way for the user: the dump fails with a message that says what happened to
which database, nothing is listed, no upload is left open — or, for a storage outage shorter
than the retry budget, the backup is stored and restorable.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from adapters.storage import open_storage
from core.config import load_config
from core.errors import DumpError
from engine.catalog import list_backups
from engine.decrypt import iter_plain
from engine.dump import run_dump
from tests.conftest import ConfigWriter
from tests.engine.conftest import s3_setup
from tests.support import pg
from tests.support.private_pg import PrivateCluster
from tests.support.s3proxy import DROP, S3Proxy, s3_error
from tests.support.s3server import S3Server

MB = 1024 * 1024


class HeldParts(S3Proxy):
    """Holds UploadPart requests until released: the upload stalls, so pg_dump stalls mid-COPY."""

    def __init__(self, upstream: str) -> None:
        self.released = threading.Event()
        self.held = 0
        super().__init__(upstream)

    def intercept(self, command: str, query: dict[str, list[str]]) -> tuple[int, bytes] | None:
        if command == "PUT" and "partNumber" in query:
            self.held += 1
            self.released.wait(120)
        return None


@pytest.fixture
def held(s3_server: S3Server) -> Iterator[HeldParts]:
    proxy = HeldParts(s3_server.endpoint_url)
    yield proxy
    proxy.released.set()
    proxy.stop()


def fill(url: str, megabytes: int) -> None:
    """Incompressible rows of 1 MB: more than the pipes, queues and part buffers hold."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE blobs (id int PRIMARY KEY, data bytea NOT NULL)")
        conn.execute(
            "INSERT INTO blobs SELECT i, (SELECT decode(string_agg(md5(random()::text || i || g), ''), 'hex') "
            "FROM generate_series(1, 65536) g) FROM generate_series(1, %s) i",
            [megabytes],
        )


def dump_until_stalled(cfg: Any, proxy: HeldParts) -> tuple[threading.Thread, dict[str, Any]]:
    """Start a dump in a thread; return once pg_dump is stalled behind the held upload."""
    out: dict[str, Any] = {"progress": []}

    def run() -> None:
        try:
            out["manifest"] = run_dump(cfg, "app", on_progress=lambda p: out["progress"].append(p))
        except DumpError as err:
            out["error"] = err

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proxy.held:
            # A 5 MB part of incompressible data is held, so pg_dump has written at least that much
            # of the 48 MB table; give it a moment to fill the queues and block mid-COPY.
            time.sleep(1.5)
            assert thread.is_alive() and "manifest" not in out
            return thread, out
        time.sleep(0.05)
    raise AssertionError(f"the dump never stalled: {out}")


def assert_failed_and_nothing_left(
    out: dict[str, Any], s3_server: S3Server, bucket: str, cfg: Any
) -> DumpError:
    assert "manifest" not in out, "a dump whose server went away was stored"
    err: DumpError = out["error"]
    assert err.message.startswith("pg_dump of database 'app' exited with status"), err.message
    assert err.hint and "Nothing was recorded" in err.hint and "was aborted" in err.hint
    assert list_backups(cfg, "app") == []
    client = s3_server.client()
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert client.list_objects_v2(Bucket=bucket, Prefix="backups/db/").get("KeyCount", 0) == 0
    return err


def test_postgres_restarted_mid_dump(
    write_config: ConfigWriter, s3_server: S3Server, s3_bucket: str, held: HeldParts, backup_key: str
) -> None:
    cluster = PrivateCluster().start()
    try:
        with psycopg.connect(cluster.url(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE app")
        fill(cluster.url("app"), 48)
        s3_setup(
            write_config, s3_server, s3_bucket, cluster.url("app"), "part_size_mb = 5", held.endpoint_url
        )
        cfg = load_config()
        thread, out = dump_until_stalled(cfg, held)
        cluster.restart()
        held.released.set()
        thread.join(120)
        err = assert_failed_and_nothing_left(out, s3_server, s3_bucket, cfg)
        assert "server closed the connection" in (err.detail or "") or "terminating connection" in (
            err.detail or ""
        )
        # The server is back: the next dump goes through and is complete.
        manifest = run_dump(cfg, "app")
        assert sum(len(b) for b in iter_plain(cfg, manifest)) == manifest.dump_bytes > 48 * MB
    finally:
        cluster.stop()


def test_database_dropped_mid_dump(
    write_config: ConfigWriter, s3_server: S3Server, s3_bucket: str, held: HeldParts, backup_key: str
) -> None:
    name = pg.create_database("bbdrop")
    try:
        fill(pg.url_for(name), 48)
        s3_setup(write_config, s3_server, s3_bucket, pg.url_for(name), "part_size_mb = 5", held.endpoint_url)
        cfg = load_config()
        thread, out = dump_until_stalled(cfg, held)
        with psycopg.connect(pg.ADMIN_URL, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [name])
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        held.released.set()
        thread.join(120)
        err = assert_failed_and_nothing_left(out, s3_server, s3_bucket, cfg)
        assert "terminating connection" in (err.detail or "") or "server closed the connection" in (
            err.detail or ""
        )
        # The next attempt says the database is gone, before anything is written.
        with pytest.raises(Exception) as again:
            run_dump(cfg, "app")
        assert f'database "{name}" does not exist' in str(getattr(again.value, "detail", "")) + str(
            again.value
        )
    finally:
        pg.drop_database(name)


class Outage(S3Proxy):
    """From the first UploadPart on, every request fails for ``seconds``: 503s and dropped connections."""

    def __init__(self, upstream: str, seconds: float) -> None:
        self.seconds = seconds
        self.began: float | None = None
        self.failed = 0
        self.lock = threading.Lock()
        super().__init__(upstream)

    def intercept(self, command: str, query: dict[str, list[str]]) -> tuple[int, bytes] | None:
        with self.lock:
            if self.began is None and command == "PUT" and "partNumber" in query:
                self.began = time.monotonic()
            if self.began is None or time.monotonic() - self.began > self.seconds:
                return None
            self.failed += 1
            return DROP if self.failed % 2 else (503, s3_error("ServiceUnavailable", "injected outage"))


@pytest.fixture
def bulky(bulky_db: str) -> str:
    return bulky_db


@pytest.mark.parametrize("seconds", [1.5])
def test_storage_down_shorter_than_the_retry_budget_is_ridden_out(
    write_config: ConfigWriter,
    s3_server: S3Server,
    s3_bucket: str,
    bulky: str,
    backup_key: str,
    seconds: float,
) -> None:
    """A short outage (the issue's "a minute", scaled to seconds) within the retries: the backup is stored."""
    outage = Outage(s3_server.endpoint_url, seconds)
    try:
        s3_setup(
            write_config,
            s3_server,
            s3_bucket,
            bulky,
            "part_size_mb = 5\nmax_attempts = 8",
            outage.endpoint_url,
        )
        cfg = load_config()
        manifest = run_dump(cfg, "app")
        assert outage.failed >= 2  # 503s and dropped connections really happened
        assert [m.id for m in list_backups(cfg, "app")] == [manifest.id]
        assert sum(len(b) for b in iter_plain(cfg, manifest)) == manifest.dump_bytes
        assert s3_server.client().list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []
    finally:
        outage.stop()


def test_storage_down_longer_than_the_retry_budget_fails_and_says_so(
    write_config: ConfigWriter, s3_server: S3Server, s3_bucket: str, bulky: str, backup_key: str
) -> None:
    outage = Outage(s3_server.endpoint_url, seconds=3600)
    try:
        s3_setup(
            write_config,
            s3_server,
            s3_bucket,
            bulky,
            "part_size_mb = 5\nmax_attempts = 2",
            outage.endpoint_url,
        )
        cfg = load_config()
        with pytest.raises(DumpError) as caught:
            run_dump(cfg, "app")
        err = caught.value
        assert err.message.startswith("backup of database 'app' failed: storage kept failing to")
        assert err.hint and "Nothing was recorded" in err.hint
        assert "could NOT be aborted" in err.hint and "backupbot prune --confirm" in err.hint
        outage.seconds = 0  # the storage is back
        assert list_backups(cfg, "app") == []  # nothing half-listed
        storage = open_storage(cfg.storage)
        [left] = storage.list_uploads("db/")
        assert storage.abort_upload(left.key, left.upload_id) and storage.list_uploads("db/") == []
    finally:
        outage.stop()
