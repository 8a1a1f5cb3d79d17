"""s3rver, a Node.js S3 server written apart from moto, as a second S3 implementation to run
against. Installed by the project (``scripts/bootstrap``, or the first test that needs it) with
npm into ``.tools/s3rver``; tests skip, saying why, only when npm cannot install it here.

What it does with what backupbot sends (seen with s3rver 3.7.1): it takes the SSE header but
stores the object unencrypted (HEAD reports no SSE), ignores If-None-Match, answers
ListMultipartUploads with 501 and refuses AbortMultipartUpload (405).

``python -m tests.support.s3rver`` installs it.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from tests.support.procs import free_port, start_until_answers, stop

VERSION = "3.7.1"
ROOT = Path(__file__).resolve().parents[2] / ".tools" / "s3rver"
SCRIPT = ROOT / "node_modules" / "s3rver" / "bin" / "s3rver.js"
ACCESS_KEY = SECRET_KEY = "S3RVER"  # the only credential s3rver accepts


class NotInstallable(Exception):
    """npm or node is missing, or the install failed; the text says which and how."""


def install() -> Path:
    """``npm install s3rver@VERSION`` into .tools/s3rver unless it is there; returns the script."""
    if SCRIPT.exists():
        return SCRIPT
    npm, node = shutil.which("npm"), shutil.which("node")
    if not npm or not node:
        raise NotInstallable(
            f"s3rver needs node and npm (found node={node}, npm={npm}); apt-get install nodejs npm"
        )
    ROOT.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [npm, "install", "--prefix", str(ROOT), "--no-audit", "--no-fund", "--no-save", f"s3rver@{VERSION}"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0 or not SCRIPT.exists():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise NotInstallable(f"npm install s3rver@{VERSION} failed ({proc.returncode}): {' | '.join(tail)}")
    return SCRIPT


@dataclass
class S3rver:
    endpoint_url: str
    process: subprocess.Popen[bytes]

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            config=Config(
                s3={"addressing_style": "path"},
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        )

    def new_bucket(self) -> str:
        name = f"bb-{uuid.uuid4().hex[:16]}"
        self.client().create_bucket(Bucket=name)
        return name

    def stop(self) -> None:
        stop(self.process)


def start_s3rver(data_dir: Path) -> S3rver:
    script = install()
    port = free_port()
    node = shutil.which("node") or "node"
    argv = [node, str(script), "-d", str(data_dir), "-a", "127.0.0.1", "-p", str(port), "--silent"]
    url = f"http://127.0.0.1:{port}"
    return S3rver(url, start_until_answers(argv, url, "s3rver"))


if __name__ == "__main__":
    try:
        print(f"s3rver {VERSION}: {install()}")
    except NotInstallable as exc:
        print(f"s3rver not installed: {exc}")
