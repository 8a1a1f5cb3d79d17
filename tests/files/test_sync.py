"""Files sync against two buckets on the local S3 server: only what changed is copied, nothing at the source moves."""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.files_manifest import list_run_ids, load_run
from engine.files_restore import restore_file
from engine.files_sync import FilesSyncError, sync_files
from tests.engine.conftest import run_cli
from tests.files.conftest import FilesFactory
from tests.support import certs
from tests.support.s3proxy import S3Proxy, s3_error


class RecordingProxy(S3Proxy):
    """Stands in front of the app's bucket only, so every request it sees is one made to the source."""

    def __init__(self, upstream: str) -> None:
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        super().__init__(upstream)

    def intercept(self, command: str, query: dict[str, list[str]]) -> tuple[int, bytes] | None:
        with self.lock:
            self.requests.append((command, "list" if "list-type" in query else "object"))
        return None

    def take(self) -> list[tuple[str, str]]:
        with self.lock:
            out, self.requests = self.requests, []
        return out


@pytest.fixture
def proxied(files_setup: FilesFactory, s3_server: Any) -> Any:
    proxy = RecordingProxy(s3_server.endpoint_url)
    setup = files_setup()
    text = setup.cfg_path.read_text()
    head, _, tail = text.partition("[files]")
    setup.cfg_path.write_text(head + "[files]" + tail.replace(s3_server.endpoint_url, proxy.endpoint_url))
    yield setup, proxy
    proxy.stop()


def test_second_sync_copies_nothing_and_the_source_is_only_read(proxied: Any) -> None:
    setup, proxy = proxied
    setup.put("certs/app.pem", certs.pem("app.example.com", 200, with_key=True))
    setup.put("xml/2026/invoice-1.xml", b"<?xml version='1.0'?><invoice><n>1</n></invoice>")
    setup.put("xml/2026/invoice-2.xml", b"<invoice><n>2</n></invoice>" * 5000)
    setup.put("other/not-copied.txt", b"outside the configured prefixes")
    before = setup.source_state()

    first = sync_files(setup.cfg)
    assert sorted(first.copied) == ["certs/app.pem", "xml/2026/invoice-1.xml", "xml/2026/invoice-2.xml"]
    run = load_run_from_bucket(setup)
    assert {f.path for f in run.files} == set(first.copied)
    for entry in run.files:
        assert entry.stored_key.startswith(f"files/data/{run.id}/")
        plain = setup.client().get_object(Bucket=setup.app_bucket, Key=f"app/{entry.path}")["Body"].read()
        assert entry.sha256 == hashlib.sha256(plain).hexdigest()
        stored = (
            setup.client().get_object(Bucket=setup.backup_bucket, Key=f"bb/{entry.stored_key}")["Body"].read()
        )
        assert stored.startswith(b"BBKUPENC") and plain[:20] not in stored  # encrypted, not a plain copy
    first_requests = proxy.take()
    assert ("GET", "object") in first_requests
    data_objects = setup.backup_keys("bb/files/data/")
    assert len(data_objects) == 3

    second = sync_files(setup.cfg)
    assert second.copied == [] and second.unchanged == 3 and not second.wrote_manifest
    assert proxy.take() == [("GET", "list"), ("GET", "list")]  # one listing per prefix, no object read
    assert setup.backup_keys("bb/files/data/") == data_objects
    assert len(list_run_ids_of(setup)) == 1

    # every request the two syncs made to the app's bucket was a read, and nothing there changed
    assert {cmd for cmd, _ in first_requests} <= {"GET", "HEAD"}
    assert setup.source_state() == before


def test_a_bot_that_lost_its_state_copies_nothing_again(files_setup: FilesFactory, tmp_path: Any) -> None:
    setup = files_setup()
    setup.put("certs/a.der", certs.der("a", 90))
    sync_files(setup.cfg)
    # another machine: a fresh state folder and a copy of the config elsewhere; the record is in the bucket
    elsewhere = tmp_path / "new-host"
    elsewhere.mkdir()
    (elsewhere / "backupbot.toml").write_text(setup.cfg_path.read_text())
    env = {
        "BACKUPBOT_CONFIG": str(elsewhere / "backupbot.toml"),
        "BACKUPBOT_STATE_DIR": str(elsewhere / "state"),
    }
    again = run_cli("files", "sync", "--json", env=env, check=True)
    assert json.loads(again.stdout)["copied"] == [] and json.loads(again.stdout)["unchanged"] == 1
    assert len(setup.backup_keys("bb/files/data/")) == 1


def test_changed_file_is_copied_again_and_the_old_version_restores_with_at(
    files_setup: FilesFactory, tmp_path: Any
) -> None:
    setup = files_setup()
    setup.put("xml/invoice.xml", b"<invoice>old</invoice>")
    setup.put("certs/keep.pem", certs.pem("keep", 100))
    t1 = datetime(2026, 11, 1, 4, 30, tzinfo=UTC)
    sync_files(setup.cfg, now=t1)
    setup.put("xml/invoice.xml", b"<invoice>new, longer</invoice>")
    t2 = t1 + timedelta(days=1)
    result = sync_files(setup.cfg, now=t2)
    assert result.copied == ["xml/invoice.xml"] and result.unchanged == 1
    runs = list_run_ids_of(setup)
    assert runs == ["files-20261101T043000Z", "files-20261102T043000Z"]
    newest = load_run(storage_of(setup), runs[-1])
    assert newest.entry("certs/keep.pem").copied_in == runs[0]  # unchanged file points at the first copy

    cfg = setup.cfg
    old = tmp_path / "old.xml"
    restore_file(cfg, "xml/invoice.xml", str(old), at=datetime(2026, 11, 1, 23, 59, tzinfo=UTC))
    assert old.read_bytes() == b"<invoice>old</invoice>"
    assert oct(old.stat().st_mode & 0o777) == "0o600"
    new = tmp_path / "new.xml"
    restore_file(cfg, "xml/invoice.xml", str(new))
    assert new.read_bytes() == b"<invoice>new, longer</invoice>"


def test_a_file_that_cannot_be_copied_fails_the_sync_but_the_rest_is_recorded(
    files_setup: FilesFactory,
) -> None:
    setup = files_setup()
    setup.put("xml/ok.xml", b"<ok/>")
    setup.put("xml/../escape.xml", b"<x/>")  # a key a folder store refuses, but S3 allows
    cfg = setup.cfg
    # point the backups at a local folder so the odd key is refused by the storage, not by us
    local = setup.cfg_path.read_text().replace(
        f's3://{setup.backup_bucket}/bb"', f'{(setup.cfg_path.parent / "store").as_uri()}"'
    )
    setup.cfg_path.write_text(local)
    cfg = setup.cfg
    with pytest.raises(FilesSyncError) as caught:
        sync_files(cfg)
    assert "1 of 2 application file(s) could not be copied" in caught.value.message
    assert "xml/../escape.xml" in (caught.value.detail or "")
    store = setup.cfg_path.parent / "store" / "files" / "data"
    copies = sorted(p for p in store.rglob("*") if p.is_file())
    assert [p.name for p in copies] == ["ok.xml.zst.enc"]
    with pytest.raises(FilesSyncError):  # the odd key still fails...
        sync_files(cfg)
    assert (
        sorted(p for p in store.rglob("*") if p.is_file()) == copies
    )  # ...and the good one is not copied twice


def storage_for(cfg: Any) -> Any:
    from adapters.storage import open_storage

    return open_storage(cfg.storage)


def storage_of(setup: Any) -> Any:
    return storage_for(setup.cfg)


def list_run_ids_of(setup: Any) -> list[str]:
    return list_run_ids(storage_of(setup))


def load_run_from_bucket(setup: Any) -> Any:
    storage = storage_of(setup)
    return load_run(storage, list_run_ids(storage)[-1])


def test_a_file_deleted_at_the_source_drops_out_but_stays_restorable(
    files_setup: FilesFactory, tmp_path: Any
) -> None:
    setup = files_setup()
    setup.put("certs/retired.pem", certs.pem("retired", 30))
    setup.put("xml/a.xml", b"<a/>")
    t1 = datetime(2026, 11, 1, 4, 30, tzinfo=UTC)
    sync_files(setup.cfg, now=t1)
    setup.client().delete_object(Bucket=setup.app_bucket, Key="app/certs/retired.pem")  # the app removed it
    result = sync_files(setup.cfg, now=t1 + timedelta(days=1))
    assert result.gone == ["certs/retired.pem"] and result.copied == [] and result.wrote_manifest
    assert [f.path for f in result.run.files] == ["xml/a.xml"]
    out = tmp_path / "retired.pem"
    restore_file(setup.cfg, "certs/retired.pem", str(out), at=t1 + timedelta(hours=1))
    assert out.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")


def test_a_large_file_is_streamed_in_parts_and_comes_back_exactly(
    files_setup: FilesFactory, tmp_path: Any
) -> None:
    setup = files_setup()
    text = setup.cfg_path.read_text().replace("[storage]\n", "[storage]\npart_size_mb = 5\n", 1)
    setup.cfg_path.write_text(text)
    body = (
        b"<ledger>\n"
        + b"".join(
            b"<row>%s</row>\n" % hashlib.sha256(b"%d" % i).hexdigest().encode() for i in range(200_000)
        )
        + b"</ledger>\n"
    )
    assert len(body) > 15_000_000
    setup.put("xml/ledger.xml", body)
    [entry] = sync_files(setup.cfg).run.files
    assert entry.stored_bytes > 5 * 1024 * 1024  # more than one part: the multipart path
    out = tmp_path / "ledger.xml"
    restore_file(setup.cfg, "xml/ledger.xml", str(out))
    assert hashlib.sha256(out.read_bytes()).hexdigest() == hashlib.sha256(body).hexdigest() == entry.sha256


class FailingReads(RecordingProxy):
    """The app's bucket answers 503 to every object read while ``failing`` is set; listings work."""

    failing = True

    def intercept(self, command: str, query: dict[str, list[str]]) -> tuple[int, bytes] | None:
        super().intercept(command, query)
        if self.failing and command == "GET" and "list-type" not in query:
            return 503, s3_error("SlowDown", "injected")
        return None


def test_a_failing_app_bucket_fails_the_sync_records_nothing_and_the_next_run_copies(
    files_setup: FilesFactory, s3_server: Any
) -> None:
    proxy = FailingReads(s3_server.endpoint_url)
    try:
        setup = files_setup("max_attempts = 2\n")
        text = setup.cfg_path.read_text()
        head, _, tail = text.partition("[files]")
        setup.cfg_path.write_text(head + "[files]" + tail.replace(s3_server.endpoint_url, proxy.endpoint_url))
        setup.put("xml/a.xml", b"<a/>")
        setup.put("certs/b.pem", certs.pem("b", 50))
        with pytest.raises(FilesSyncError) as caught:
            sync_files(setup.cfg)
        assert caught.value.message == "2 of 2 application file(s) could not be copied"
        assert "storage kept failing to read" in (caught.value.detail or "")
        assert list_run_ids_of(setup) == [] and setup.backup_keys("bb/files/") == []
        assert {cmd for cmd, _ in proxy.take()} == {"GET"}
        proxy.failing = False
        assert sorted(sync_files(setup.cfg).copied) == ["certs/b.pem", "xml/a.xml"]
    finally:
        proxy.stop()


def test_a_cancelled_sync_stops_mid_copy_and_leaves_nothing(files_setup: FilesFactory) -> None:
    setup = files_setup()
    setup.put("xml/a.xml", b"<a/>")
    setup.put("xml/b.xml", b"<b/>")
    cancel = threading.Event()
    with pytest.raises(FilesSyncError, match="cancelled") as caught:
        sync_files(
            setup.cfg, cancel=cancel, on_progress=lambda _text: cancel.set()
        )  # pressed during the first copy
    assert "0 file(s) had been copied" in (caught.value.detail or "")
    assert setup.backup_keys("bb/files/") == []
    assert not setup.client().list_multipart_uploads(Bucket=setup.backup_bucket).get("Uploads")
