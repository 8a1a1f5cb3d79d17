"""Backups, manifests and runbook entries are written create-only: an object already at the key
is refused (S3 412 to If-None-Match: *; an existing file for file://), never replaced. This is
what a deploy pipeline's "no overwrite" rests on where a policy cannot say it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from adapters.storage import open_storage
from adapters.storage.base import ObjectExistsError
from core.config import load_config
from core.errors import StorageError
from tests.conftest import ConfigWriter
from tests.support.s3proxy import S3Proxy, s3_error
from tests.support.s3server import S3Server


@pytest.mark.parametrize("size", [100, 6 * 1024 * 1024], ids=["single put", "multipart"])
def test_s3_create_only_refuses_to_replace(
    size: int, s3_server: S3Server, s3_bucket: str, write_config: ConfigWriter
) -> None:
    path = write_config(f"s3://{s3_bucket}/bb", endpoint_url=s3_server.endpoint_url, extra="")
    path.write_text(path.read_text().replace("[storage]", "[storage]\npart_size_mb = 5"))
    storage = open_storage(load_config(str(path)).storage)
    storage.put_bytes("db/app/x.manifest.json", b"original", create_only=True)
    with pytest.raises(StorageError) as refused:
        storage.put_stream("db/app/x.manifest.json", [b"r" * size], create_only=True)
    assert "already there" in refused.value.message and "never overwrites" in (refused.value.hint or "")
    assert (
        s3_server.client().get_object(Bucket=s3_bucket, Key="bb/db/app/x.manifest.json")["Body"].read()
        == b"original"
    )
    assert not s3_server.client().list_multipart_uploads(Bucket=s3_bucket).get("Uploads")
    storage.put_bytes("db/app/x.manifest.json", b"replaced")  # without create_only it is an ordinary write
    assert storage.get_bytes("db/app/x.manifest.json") == b"replaced"


def test_file_storage_create_only_refuses_to_replace(tmp_path: Path, write_config: ConfigWriter) -> None:
    storage = open_storage(load_config(str(write_config(f"file://{tmp_path}/store"))).storage)
    storage.put_bytes("db/app/x.manifest.json", b"original", create_only=True)
    with pytest.raises(StorageError) as refused:
        storage.put_bytes("db/app/x.manifest.json", b"replaced", create_only=True)
    assert "already exists" in refused.value.message
    assert storage.get_bytes("db/app/x.manifest.json") == b"original"
    assert [o.key for o in storage.list("")] == ["db/app/x.manifest.json"], "no temporary file left behind"


class NoConditionalWrites(S3Proxy):
    """A store that answers If-None-Match on a write with 501, as some S3-compatible ones do."""

    def intercept_request(self, command: str, query: dict[str, list[str]], headers: dict[str, str]) -> Any:
        if command in ("PUT", "POST") and "if-none-match" in headers:
            return 501, s3_error(
                "NotImplemented", "A header you provided implies functionality that is not implemented"
            )
        return None


@pytest.mark.parametrize("size", [100, 6 * 1024 * 1024], ids=["single put", "multipart"])
def test_a_store_without_conditional_writes_gets_look_then_write(
    size: int, s3_server: S3Server, s3_bucket: str, write_config: ConfigWriter
) -> None:
    proxy = NoConditionalWrites(s3_server.endpoint_url)
    try:
        path = write_config(f"s3://{s3_bucket}/bb", endpoint_url=proxy.endpoint_url)
        path.write_text(path.read_text().replace("[storage]", '[storage]\npart_size_mb = 5\nsse = "none"'))
        storage = open_storage(load_config(str(path)).storage)
        storage.check_writable()
        storage.put_stream("db/app/y.dump.zst.enc", [b"o" * size], create_only=True)
        with pytest.raises(ObjectExistsError):
            storage.put_stream("db/app/y.dump.zst.enc", [b"r" * size], create_only=True)
        body = s3_server.client().get_object(Bucket=s3_bucket, Key="bb/db/app/y.dump.zst.enc")["Body"].read()
        assert body == b"o" * size
        storage.check_writable()  # the probe is there now: it is written again, unconditionally
        assert not s3_server.client().list_multipart_uploads(Bucket=s3_bucket).get("Uploads")
    finally:
        proxy.stop()
