"""Two buckets on the local S3 server: the application's (certificates, XML) and the backups'."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from core.config import Config, load_config
from tests.conftest import ConfigWriter
from tests.support.s3server import S3Server


@dataclass
class Files:
    s3: S3Server
    app_bucket: str
    backup_bucket: str
    cfg_path: Path

    @property
    def cfg(self) -> Config:
        return load_config(str(self.cfg_path))

    def client(self) -> Any:
        return self.s3.client()

    def put(self, key: str, data: bytes) -> None:
        """Write into the app's bucket, as the invoicing app would."""
        self.client().put_object(Bucket=self.app_bucket, Key=f"app/{key}", Body=data)

    def source_state(self) -> dict[str, tuple[str, int, str]]:
        """Every object at the source with ETag, size and content hash, to prove nothing changed."""
        c = self.client()
        out = {}
        for page in c.get_paginator("list_objects_v2").paginate(Bucket=self.app_bucket):
            for obj in page.get("Contents", []):
                body = c.get_object(Bucket=self.app_bucket, Key=obj["Key"])["Body"].read()
                out[obj["Key"]] = (obj["ETag"], obj["Size"], hashlib.sha256(body).hexdigest())
        return out

    def backup_keys(self, prefix: str = "") -> list[str]:
        c = self.client()
        keys = []
        for page in c.get_paginator("list_objects_v2").paginate(Bucket=self.backup_bucket, Prefix=prefix):
            keys += [o["Key"] for o in page.get("Contents", [])]
        return sorted(keys)


FilesFactory = Callable[..., Files]


@pytest.fixture
def files_setup(
    s3_server: S3Server, write_config: ConfigWriter, backup_key: str, monkeypatch: pytest.MonkeyPatch
) -> FilesFactory:
    """``files_setup(extra_files_toml)``: config with [storage] on one bucket and [files] on another."""

    def make(extra: str = "", credentials_env: bool = True) -> Files:
        app, backups = s3_server.new_bucket(), s3_server.new_bucket()
        creds = ""
        if credentials_env:
            # the app's bucket read with its own variables, as a deployment with two accounts would
            monkeypatch.setenv("APP_FILES_KEY_ID", "testing")
            monkeypatch.setenv("APP_FILES_SECRET", "testing")
            creds = 'access_key_id_env = "APP_FILES_KEY_ID"\nsecret_access_key_env = "APP_FILES_SECRET"\n'
        path = write_config(
            f"s3://{backups}/bb",
            endpoint_url=s3_server.endpoint_url,
            extra=f"""
[files]
source_url = "s3://{app}/app"
endpoint_url = "{s3_server.endpoint_url}"
region = "us-east-1"
prefixes = ["certs/", "xml/"]
{creds}{extra}
""",
        )
        return Files(s3_server, app, backups, path)

    return make
