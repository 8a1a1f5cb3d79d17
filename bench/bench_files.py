"""Benchmark: `backupbot files sync` against the runbook's `aws s3 sync`, on the same local S3 server.

    .venv/bin/python bench/bench_files.py                      # one big XML of 32 and 128 MB + 300 small files
    .venv/bin/python bench/bench_files.py --big-mb 8 --small 50   # a quick check

For each size it fills an "app" bucket with ``--small`` small files (certificates and
invoices of a few KB) and one large XML file, then measures, as separate processes:

  * aws s3 sync s3://app s3://backups/recipe/     (the recipe: server-side copies, no client-side encryption)
  * backupbot files sync                          (read → sha256 → zstd → AES-GCM → upload, per file)
  * the same two again with nothing changed       (what every night without changes costs)
  * backupbot files verify                        (decrypt every copy, parse the XML, load the certificates)

and prints wall time, the peak RSS of each command's process tree (sampled from /proc; it
should not grow with the large file, which is streamed) and what the backup bucket holds.
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from procstats import Meter  # noqa: E402

from tests.support import certs  # noqa: E402
from tests.support.s3server import start_s3_server  # noqa: E402

VENV_BIN = Path(sys.executable).parent


def fill(client: object, bucket: str, small: int, big_mb: int) -> int:
    total = 0
    for i in range(small):
        if i % 3 == 0:
            body = certs.pem(f"app-{i}.example.com", 300, with_key=True)
            key = f"certs/app-{i}.pem"
        else:
            body = (f"<invoice id='{i}'>" + "<line>item</line>" * 400 + "</invoice>").encode()
            key = f"xml/2026/invoice-{i}.xml"
        client.put_object(Bucket=bucket, Key=key, Body=body)  # type: ignore[attr-defined]
        total += len(body)
    rng = random.Random(7)
    row_size = 110
    rows = big_mb * 1024 * 1024 // row_size
    with tempfile.TemporaryFile() as fh:
        fh.write(b"<rows>\n")
        for n in range(rows):  # like a signed ledger: structure repeats, digests do not
            fh.write(
                b"<row><sku>%d</sku><qty>%d</qty><sig>%s</sig></row>\n"
                % (n % 9973, n % 7, rng.randbytes(24).hex().encode())
            )
        fh.write(b"</rows>\n")
        size = fh.tell()
        fh.seek(0)
        client.upload_fileobj(fh, bucket, "xml/big-ledger.xml")  # type: ignore[attr-defined]
    return total + size


def run(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    meter = Meter([proc.pid])
    out, err = proc.communicate()
    if os.environ.get("BENCH_VERBOSE"):
        print(out.decode(errors="replace")[-600:], err.decode(errors="replace")[-600:])
    result = meter.stop()
    if proc.returncode not in (0, 1) or (proc.returncode == 1 and "verify" not in cmd):
        raise SystemExit(f"{' '.join(cmd)} failed: {err.decode(errors='replace')[-2000:]}")
    return result.wall, result.peak_mb


def stored(client: object, bucket: str, prefix: str) -> int:
    total = 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):  # type: ignore[attr-defined]
        total += sum(o["Size"] for o in page.get("Contents", []))
    return total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--big-mb", type=int, nargs="+", default=[32, 128])
    ap.add_argument("--small", type=int, default=300)
    args = ap.parse_args()
    for var, val in (
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
    ):
        os.environ.setdefault(var, val)
    server = start_s3_server()
    rows = [("size", "command", "wall s", "peak RSS MB", "stored MB")]
    try:
        client = server.client()
        for big in args.big_mb:
            app, backups = server.new_bucket(), server.new_bucket()
            logical = fill(client, app, args.small, big)
            work = Path(tempfile.mkdtemp(prefix="bench-files-"))
            cfg = work / "backupbot.toml"
            cfg.write_text(
                f'[storage]\nurl = "s3://{backups}/bb"\nendpoint_url = "{server.endpoint_url}"\nregion = "us-east-1"\n'
                f'\n[files]\nsource_url = "s3://{app}"\nendpoint_url = "{server.endpoint_url}"\n'
                'region = "us-east-1"\nprefixes = ["certs/", "xml/"]\n'
            )
            env = {
                **os.environ,
                "BACKUPBOT_CONFIG": str(cfg),
                "BACKUPBOT_STATE_DIR": str(work / "state"),
                "BACKUPBOT_KEY": base64.b64encode(os.urandom(32)).decode(),
            }
            size = f"{logical / 1e6:,.0f} MB"
            aws = [
                str(VENV_BIN / "aws"),
                "--endpoint-url",
                server.endpoint_url,
                "s3",
                "sync",
                "--only-show-errors",
            ]
            aws += [f"s3://{app}", f"s3://{backups}/recipe/"]
            bot = [sys.executable, "-m", "cli", "files", "sync"]
            for label, cmd, prefix in (
                ("recipe: aws s3 sync", aws, "recipe/"),
                ("backupbot files sync", bot, "bb/files/"),
                ("recipe again, nothing changed", aws, "recipe/"),
                ("backupbot again, nothing changed", bot, "bb/files/"),
                ("backupbot files verify", [sys.executable, "-m", "cli", "files", "verify"], "bb/files/"),
            ):
                wall, peak = run(cmd, env)
                rows.append(
                    (
                        size,
                        label,
                        f"{wall:.1f}",
                        f"{peak:.0f}",
                        f"{stored(client, backups, prefix) / 1e6:,.1f}",
                    )
                )
    finally:
        server.stop()
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
