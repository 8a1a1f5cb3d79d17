"""moto's standalone S3 server as a real HTTP process on a free loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass

import boto3
import requests


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_s3_server() -> S3Server:
    """Starts ``moto_server`` in a subprocess and waits until it answers."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"moto server exited with {proc.returncode}")
        try:
            requests.get(url + "/moto-api/", timeout=1)
            return S3Server(url, proc)
        except requests.ConnectionError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("moto server did not start within 30 s")
