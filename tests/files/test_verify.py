"""Files verify reads the backed-up copies: unsafe and malformed XML, certificates that do not load or expire."""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from adapters.storage import open_storage
from engine.files_manifest import list_run_ids, run_key
from engine.files_sync import sync_files
from engine.files_verify import verify_files
from tests.files.conftest import Files, FilesFactory
from tests.support import certs

_opened: list[str] = []
_watch: dict[str, str] = {}


def _audit(event: str, args: tuple[Any, ...]) -> None:
    # An audit hook cannot be removed; it only records while a test has set a path to watch.
    if _watch and event == "open" and args and isinstance(args[0], (str, bytes)):
        if _watch["path"] in str(args[0]):
            _opened.append(str(args[0]))


sys.addaudithook(_audit)


@pytest.fixture
def http_hits() -> Any:
    """A local web server that counts requests: an external entity pointing at it must never be fetched."""
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"<x>fetched</x>")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/entity.xml", hits
    server.shutdown()
    server.server_close()


def synced(setup: Files) -> None:
    sync_files(setup.cfg)


def test_unsafe_xml_is_reported_and_nothing_outside_is_read(
    files_setup: FilesFactory, tmp_path: Path, http_hits: Any
) -> None:
    url, hits = http_hits
    secret = tmp_path / "secret-passwd"
    secret.write_text("root:SECRET-MARKER:0:0")
    setup = files_setup()
    setup.put(
        "xml/xxe-file.xml",
        f'<?xml version="1.0"?>\n<!DOCTYPE r [\n<!ENTITY x SYSTEM "file://{secret}">\n]>\n<r>&x;</r>'.encode(),
    )
    setup.put("xml/xxe-http.xml", f'<!DOCTYPE r [<!ENTITY x SYSTEM "{url}">]><r>&x;</r>'.encode())
    setup.put(
        "xml/laughs.xml",
        b'<!DOCTYPE l [<!ENTITY a "ha"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><l>&b;</l>',
    )
    setup.put("xml/good.xml", b"<?xml version='1.0'?><invoice/>")
    synced(setup)

    _watch["path"] = str(secret)
    try:
        report = verify_files(setup.cfg)
    finally:
        _watch.clear()
    assert _opened == [] and hits == []
    bad = {f.path: f.problem for f in report.bad}
    assert set(bad) == {"xml/xxe-file.xml", "xml/xxe-http.xml", "xml/laughs.xml"}
    assert bad["xml/xxe-file.xml"].startswith("unsafe XML: declares entity 'x'")
    assert f"file://{secret}" in bad["xml/xxe-file.xml"] and "line 3" in bad["xml/xxe-file.xml"]
    assert "SECRET-MARKER" not in json.dumps(report.to_dict())
    assert bad["xml/laughs.xml"].startswith("unsafe XML: declares entity 'a'")
    assert report.ok["xml"] == 1 and report.checked == 4


def test_malformed_xml_is_reported_with_its_line(files_setup: FilesFactory) -> None:
    setup = files_setup()
    setup.put("xml/broken.xml", b"<?xml version='1.0'?>\n<invoice>\n  <total>10</amount>\n</invoice>\n")
    big = b"<rows>" + b"<row>x</row>\n" * 200_000 + b"<row></rows>"  # 2.6 MB: several decrypted chunks
    setup.put("xml/big-broken.xml", big)
    synced(setup)
    bad = {f.path: f.problem for f in verify_files(setup.cfg).bad}
    assert bad["xml/broken.xml"] == "malformed XML: mismatched tag at line 3, column 14"
    assert bad["xml/big-broken.xml"].startswith("malformed XML: mismatched tag at line 200001")


def test_expired_and_expiring_certificates_are_listed(files_setup: FilesFactory) -> None:
    setup = files_setup()
    setup.put("certs/fine.pem", certs.pem("fine.example.com", 365, with_key=True))
    setup.put("certs/soon.der", certs.der("soon.example.com", 10))
    setup.put("certs/old.crt", certs.pem("old.example.com", -3))
    synced(setup)
    report = verify_files(setup.cfg)
    assert report.bad == []
    assert report.ok["certificate"] == 3
    assert [(c.path, c.subject) for c in report.expiring] == [("certs/soon.der", "CN=soon.example.com")]
    assert [(c.path, c.subject) for c in report.expired] == [("certs/old.crt", "CN=old.example.com")]


def test_pkcs12_with_a_wrong_password_is_reported_not_crashed_on(
    files_setup: FilesFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APP_P12_PASSWORD", "right horse")
    monkeypatch.setenv("SIGNING_P12_PASSWORD", "what the deploy set")
    setup = files_setup(
        'pkcs12_password_env = "APP_P12_PASSWORD"\n'
        '[files.password_envs]\n"certs/signing/*" = "SIGNING_P12_PASSWORD"\n'
    )
    setup.put("certs/app.p12", certs.p12("app", 200, b"right horse"))
    setup.put("certs/signing/sign.p12", certs.p12("signer", 200, b"another password"))
    setup.put("certs/not-a-cert.pem", b"-----BEGIN NONSENSE-----\nAAAA\n-----END NONSENSE-----\n")
    synced(setup)
    report = verify_files(setup.cfg)
    bad = {f.path: f.problem for f in report.bad}
    assert bad == {
        "certs/signing/sign.p12": "PKCS#12 does not open: wrong password or damaged file "
        "(password from SIGNING_P12_PASSWORD)",
        "certs/not-a-cert.pem": "PEM holds no certificate or private key (blocks: NONSENSE)",
    }
    assert report.ok["certificate"] == 1
    assert "another password" not in json.dumps(report.to_dict())


def test_a_copy_whose_content_no_longer_matches_is_reported(files_setup: FilesFactory) -> None:
    setup = files_setup()
    setup.put("xml/a.xml", b"<a/>")
    setup.put("xml/b.xml", b"<b/>")
    setup.put("xml/c.xml", b"<c/>")
    synced(setup)
    storage = open_storage(setup.cfg.storage)
    rid = list_run_ids(storage)[-1]
    manifest = json.loads(storage.get_bytes(run_key(rid)))
    manifest["files"][0]["sha256"] = "0" * 64  # the record says other content than the copy holds
    storage.put_bytes(run_key(rid), json.dumps(manifest).encode())
    b_key = manifest["files"][1]["stored_key"]
    stored = bytearray(storage.get_bytes(b_key))
    stored[-5] ^= 1  # a flipped byte in the stored copy of b
    storage.put_bytes(b_key, bytes(stored))
    storage.delete(manifest["files"][2]["stored_key"])  # and the copy of c is gone
    bad = {f.path: f.problem for f in verify_files(setup.cfg).bad}
    assert bad["xml/a.xml"] == "backup copy is damaged: the content no longer matches its recorded sha256"
    assert bad["xml/b.xml"].startswith("backup copy is damaged: chunk 0 failed authentication")
    c_key = manifest["files"][2]["stored_key"]
    assert bad["xml/c.xml"] == f"backup copy is missing: {c_key} is not in the backup bucket"


def test_an_unreachable_backup_bucket_fails_the_check_instead_of_blaming_the_files(
    files_setup: FilesFactory, s3_server: Any
) -> None:
    from core.errors import StorageError
    from tests.support.s3proxy import S3Proxy, s3_error

    class AfterManifest(S3Proxy):
        """Lets the listing and the first object read (the manifest) through, then answers 503."""

        reads = 0

        def intercept(self, command: str, query: dict[str, list[str]]) -> tuple[int, bytes] | None:
            if command == "GET" and "list-type" not in query:
                self.reads += 1
                if self.reads > 1:
                    return 503, s3_error("ServiceUnavailable", "injected")
            return None

    setup = files_setup()
    setup.put("xml/a.xml", b"<a/>")
    synced(setup)
    proxy = AfterManifest(s3_server.endpoint_url)
    try:
        text = setup.cfg_path.read_text()
        head, _, tail = text.partition("[files]")
        head = head.replace(s3_server.endpoint_url, proxy.endpoint_url).replace(
            "[storage]\n", "[storage]\nmax_attempts = 1\n"
        )
        setup.cfg_path.write_text(head + "[files]" + tail)
        with pytest.raises(StorageError, match="storage kept failing to read files/data/"):
            verify_files(setup.cfg)
    finally:
        proxy.stop()
