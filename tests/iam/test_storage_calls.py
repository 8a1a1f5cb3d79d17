"""The storage calls the CLI tests do not reach, each with the policy of the role that makes it:
the bot aborting an interrupted dump's upload at start (ListMultipartUploads + abort), and a
pipeline's multipart upload — completed create-only, or aborted when the dump fails."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from adapters.storage import open_storage
from adapters.storage.base import Storage
from core.config import load_config
from core.errors import StorageError
from tests.conftest import ConfigWriter
from tests.support.iam import PREFIX, IAMServer


def storage_as(
    role: str, server: IAMServer, write_config: ConfigWriter, monkeypatch: pytest.MonkeyPatch
) -> Storage:
    for name, value in server.users[role].env().items():
        monkeypatch.setenv(name, value)
    path = write_config(f"s3://{server.bucket}/{PREFIX}", endpoint_url=server.endpoint_url)
    path.write_text(path.read_text().replace("[storage]", "[storage]\npart_size_mb = 5"))
    return open_storage(load_config(str(path)).storage)


def test_bot_aborts_an_interrupted_upload(
    iam_server: IAMServer, write_config: ConfigWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = iam_server.client()
    admin.create_multipart_upload(Bucket=iam_server.bucket, Key=f"{PREFIX}/db/app/2026/01/died.dump.zst.enc")
    storage = storage_as("bot", iam_server, write_config, monkeypatch)
    assert storage.abort_incomplete("db/") >= 1
    assert not admin.list_multipart_uploads(Bucket=iam_server.bucket, Prefix=f"{PREFIX}/db/").get("Uploads")


def test_pipeline_multipart_upload_completes_or_is_aborted(
    iam_server: IAMServer, write_config: ConfigWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = storage_as("pipeline", iam_server, write_config, monkeypatch)
    big = b"x" * (6 * 1024 * 1024)
    result = storage.put_stream("db/app/2026/01/big.dump.zst.enc", [big], create_only=True)
    assert result.size == len(big) and storage.head("db/app/2026/01/big.dump.zst.enc")["size"] == len(big)

    def failing() -> Iterator[bytes]:
        yield big
        raise RuntimeError("pg_dump was killed")

    with pytest.raises(RuntimeError):
        storage.put_stream("db/app/2026/01/failed.dump.zst.enc", failing(), create_only=True)
    admin = iam_server.client()
    assert not admin.list_multipart_uploads(Bucket=iam_server.bucket, Prefix=f"{PREFIX}/db/").get("Uploads")
    assert f"{PREFIX}/db/app/2026/01/failed.dump.zst.enc" not in iam_server.keys()

    with pytest.raises(StorageError) as refused:  # outside db/: not the pipeline's to write
        storage.put_bytes("audit/x.json", b"{}", create_only=True)
    assert (
        f"s3:PutObject denied on arn:aws:s3:::{iam_server.bucket}/{PREFIX}/audit/x.json"
        in refused.value.message
    )
