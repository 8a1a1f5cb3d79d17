"""The IAM server is shared by this area's tests (users and policies do not change)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.iam import IAMServer, start_iam_server


@pytest.fixture(scope="module")
def iam_server() -> Iterator[IAMServer]:
    server = start_iam_server()
    yield server
    server.s3.stop()
