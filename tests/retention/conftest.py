from __future__ import annotations

from pathlib import Path

import pytest

from core.config import Config, load_config
from tests.conftest import ConfigWriter
from tests.support.s3server import S3Server


@pytest.fixture
def s3_config(s3_server: S3Server, s3_bucket: str, write_config: ConfigWriter) -> Config:
    """A config on the local S3 server with database 'prod' (retention defaults, UTC)."""
    path: Path = write_config(
        f"s3://{s3_bucket}/backups",
        {"prod": "postgresql://postgres@localhost:5432/unused"},
        endpoint_url=s3_server.endpoint_url,
    )
    return load_config(str(path))
