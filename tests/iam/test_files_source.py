"""The `[files]` source policy (docs/iam/files-source-reader.json): a files sync works with it
alone, and it cannot change the application's bucket.

The bot writes the copies with its own policy (docs/iam/bot.json on the backup bucket); the
app's bucket is read with a credential of its own (`[files] access_key_id_env`), as in a
deployment where the app's bucket is in another account. That credential holds exactly the
shipped file: list the prefix, head and read objects under it; an explicit deny of every write.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from adapters.storage.source import open_source
from core.config import load_config
from core.errors import BackupbotError
from engine.files_restore import restore_file
from engine.files_sync import sync_files
from tests.conftest import ConfigWriter
from tests.support.iam import APP_PREFIX, PREFIX, IAMServer

FILES = {
    "certs/signing.pem": b"-----BEGIN CERTIFICATE-----\nnot really\n-----END CERTIFICATE-----\n",
    "xml/invoice-1.xml": b"<invoice><total>12.50</total></invoice>",
}


def _app_state(server: IAMServer) -> dict[str, str]:
    """Every object in the app's bucket with the sha256 of its content, read as the admin."""
    admin = server.client()
    state = {}
    for page in admin.get_paginator("list_objects_v2").paginate(Bucket=server.app_bucket):
        for obj in page.get("Contents", []):
            body = admin.get_object(Bucket=server.app_bucket, Key=obj["Key"])["Body"].read()
            state[obj["Key"]] = hashlib.sha256(body).hexdigest()
    return state


def _config(
    server: IAMServer, write_config: ConfigWriter, monkeypatch: pytest.MonkeyPatch, source_role: str | None
) -> Path:
    """[storage] as the bot; [files] as ``source_role`` (None: the bot's own credentials)."""
    for name, value in server.users["bot"].env().items():
        monkeypatch.setenv(name, value)
    creds = ""
    if source_role:
        cred = server.users[source_role]
        monkeypatch.setenv("APP_FILES_KEY_ID", cred.access_key_id)
        monkeypatch.setenv("APP_FILES_SECRET", cred.secret_access_key)
        creds = 'access_key_id_env = "APP_FILES_KEY_ID"\nsecret_access_key_env = "APP_FILES_SECRET"\n'
    return write_config(
        f"s3://{server.bucket}/{PREFIX}",
        endpoint_url=server.endpoint_url,
        extra=f"""
[files]
source_url = "s3://{server.app_bucket}/{APP_PREFIX}"
endpoint_url = "{server.endpoint_url}"
region = "us-east-1"
prefixes = ["certs/", "xml/"]
{creds}""",
    )


@pytest.fixture
def app_files(iam_server: IAMServer) -> dict[str, str]:
    admin = iam_server.client()
    for path, data in FILES.items():
        admin.put_object(Bucket=iam_server.app_bucket, Key=f"{APP_PREFIX}/{path}", Body=data)
    return _app_state(iam_server)


def test_files_sync_works_with_exactly_the_source_reader_policy(
    iam_server: IAMServer,
    app_files: dict[str, str],
    write_config: ConfigWriter,
    backup_key: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    cfg = load_config(str(_config(iam_server, write_config, monkeypatch, "files-source-reader")))
    result = sync_files(cfg)
    assert sorted(result.copied) == sorted(FILES) and result.wrote_manifest
    assert result.run is not None
    assert len(iam_server.keys(f"{PREFIX}/files/data/{result.run.id}/")) == len(FILES)

    # The copy is the file: restored from the backup bucket, byte for byte.
    out = tmp_path / "invoice.xml"
    restore_file(cfg, "xml/invoice-1.xml", str(out), None)
    assert out.read_bytes() == FILES["xml/invoice-1.xml"]

    # HEAD (what a sync does when a file changed between listing and reading) is allowed too.
    source = open_source(cfg.files)  # type: ignore[arg-type]
    head = source.head("certs/signing.pem")
    assert head["size"] == len(FILES["certs/signing.pem"])
    assert b"".join(source.read("certs/signing.pem", str(head["etag"]))) == FILES["certs/signing.pem"]

    assert _app_state(iam_server) == app_files, "the sync changed the app's bucket"


@pytest.mark.parametrize(
    ("call", "kwargs"),
    [
        ("put_object", {"Key": f"{APP_PREFIX}/xml/invoice-1.xml", "Body": b"<evil/>"}),
        ("put_object", {"Key": f"{APP_PREFIX}/xml/new.xml", "Body": b"<new/>"}),
        ("delete_object", {"Key": f"{APP_PREFIX}/certs/signing.pem"}),
        ("delete_objects", {"Delete": {"Objects": [{"Key": f"{APP_PREFIX}/certs/signing.pem"}]}}),
        ("create_multipart_upload", {"Key": f"{APP_PREFIX}/xml/big.xml"}),
        ("put_object", {"Key": "elsewhere/x.txt", "Body": b"x"}),
    ],
)
def test_the_source_reader_cannot_write_or_delete_in_the_apps_bucket(
    iam_server: IAMServer, app_files: dict[str, str], call: str, kwargs: dict[str, Any]
) -> None:
    reader = iam_server.client("files-source-reader")
    try:
        answer = getattr(reader, call)(Bucket=iam_server.app_bucket, **kwargs)
    except ClientError as exc:
        codes = [exc.response["Error"]["Code"]]
    else:  # DeleteObjects answers 200 and refuses key by key, as S3 does
        codes = [e["Code"] for e in answer.get("Errors", [])] or ["(allowed)"]
    assert codes == ["AccessDenied"]
    assert _app_state(iam_server) == app_files


def test_the_source_reader_cannot_touch_the_backup_bucket(iam_server: IAMServer) -> None:
    reader = iam_server.client("files-source-reader")
    for call, kwargs in (
        ("list_objects_v2", {"Prefix": f"{PREFIX}/"}),
        ("put_object", {"Key": f"{PREFIX}/db/x", "Body": b"x"}),
    ):
        with pytest.raises(ClientError) as refused:
            getattr(reader, call)(Bucket=iam_server.bucket, **kwargs)
        assert refused.value.response["Error"]["Code"] == "AccessDenied"


def test_without_the_source_policy_the_sync_names_the_missing_permission(
    iam_server: IAMServer,
    app_files: dict[str, str],
    write_config: ConfigWriter,
    backup_key: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The bot's policy covers the backup bucket only: reading the app's bucket with it is refused,
    and the message says which grant is missing where, and that nothing else is needed."""
    cfg = load_config(str(_config(iam_server, write_config, monkeypatch, None)))
    before = iam_server.keys(f"{PREFIX}/files/")
    with pytest.raises(BackupbotError) as refused:
        sync_files(cfg)
    text = refused.value.render()
    assert f"s3:ListBucket denied on arn:aws:s3:::{iam_server.app_bucket}" in text
    assert "cannot read the application's bucket" in text and "s3:GetObject" in text
    assert iam_server.keys(f"{PREFIX}/files/") == before


def test_moto_takes_a_policy_condition_as_met(iam_server: IAMServer) -> None:
    """Pins the README's note on what tests/iam cannot check: the pipeline's PutObject is allowed
    only with `If-None-Match` (a `Null` condition on `s3:if-none-match`), and AWS refuses this plain
    PUT; moto allows it. If moto starts evaluating Conditions, this fails: then the README's list of
    untested lines is wrong, and those conditions can be tested here."""
    key = f"{PREFIX}/db/moto-condition-probe"
    iam_server.client("pipeline").put_object(Bucket=iam_server.bucket, Key=key, Body=b"x")
    assert key in iam_server.keys()
