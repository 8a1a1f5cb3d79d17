"""moto's standalone S3 server as a real HTTP process on a free loopback port."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from dataclasses import dataclass

import boto3

from tests.support.procs import free_port, start_until_answers, stop


@dataclass
class S3Server:
    endpoint_url: str
    process: subprocess.Popen[bytes]

    def client(self):  # type: ignore[no-untyped-def]
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def new_bucket(self, object_lock: bool = False) -> str:
        name = f"bb-{uuid.uuid4().hex[:16]}"
        kwargs = {"ObjectLockEnabledForBucket": True} if object_lock else {}
        self.client().create_bucket(Bucket=name, **kwargs)
        return name

    def stop(self) -> None:
        stop(self.process)


def start_s3_server() -> S3Server:
    """Starts ``moto_server`` in a subprocess and waits until it answers."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    return S3Server(url, start_until_answers(argv, url + "/moto-api/", "moto server"))
