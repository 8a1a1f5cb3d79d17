"""Servers the tests run as real processes: a free loopback port, start until it answers, stop.

moto's S3 server and s3rver are started the same way; one place keeps how long to wait and
what to say when a server dies before it answers.
"""

from __future__ import annotations

import socket
import subprocess
import time

import requests


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_until_answers(
    argv: list[str], probe_url: str, name: str, timeout: float = 30
) -> subprocess.Popen[bytes]:
    """Start ``argv`` and return once an HTTP GET of ``probe_url`` gets any answer."""
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}")
        try:
            requests.get(probe_url, timeout=1)
            return proc
        except requests.ConnectionError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{name} did not start within {timeout:.0f} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
