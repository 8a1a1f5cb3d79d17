"""Benchmark: `backupbot dump` against the recipe it replaces, on the same local S3 server.

    .venv/bin/python bench/bench_dump.py                 # pgbench scales 20 and 70 (~1 GB), 3 runs each
    .venv/bin/python bench/bench_dump.py --scales 2 5 --runs 1   # a quick check

Builds each database once (pgbench -i -s N plus an invoice-like table: XML rows, or with
--data text plain text rows; see bench/datasets.py; kept between runs, dropped with --drop),
starts moto's S3 server, then measures side by side:

  * pg_dump -Fc > /dev/null                                 (the floor: pg_dump and its gzip alone)
  * pg_dump -Fc | aws s3 cp - s3://… --sse AES256            (the recipe)
  * pg_dump -Fc -Z0 | zstd -3 > /dev/null                   (the floor of our pipeline: no Python, no upload)
  * pg_dump -Fc -Z0 | zstd -1 | aws s3 cp - …               (the upload floor: no encryption, no own code)
  * backupbot dump                                          (-Z0 → zstd → AES-GCM → multipart, SSE)

The commands run interleaved (one of each per round) so a neighbour's load hits them alike,
and the table prints wall time (median), throughput (logical dump bytes / wall), stored
size, the peak RSS of the whole process tree of each command (sampled from /proc), for two
sizes so it shows whether memory grows with the database, and where the CPU went (median
seconds): the command's own process tree, the PostgreSQL backend serving its COPY, and the
S3 server receiving the upload. On 2 cores the sum of the three, halved, is a floor for the
wall time of a fully overlapped pipeline.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO

import psycopg

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from datasets import DATASETS, build_database, database_name  # noqa: E402
from procstats import Meter, Run, children_cpu  # noqa: E402

from tests.support import pg  # noqa: E402
from tests.support.s3server import start_s3_server  # noqa: E402

VENV_BIN = Path(sys.executable).parent
UPLOAD_FLOOR = "upload floor: pg_dump -Z0 | zstd -1 | aws s3 cp"


# ------------------------------------------------------------------ measurements


def _postmaster() -> int:
    with psycopg.connect(pg.ADMIN_URL) as conn:  # read while the backend still exists
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
        assert row is not None
        with open(f"/proc/{row[0]}/stat") as fh:
            return int(fh.read().rsplit(")", 1)[1].split()[1])  # the backend's parent


def measure(start: Callable[[], list[subprocess.Popen[bytes]]]) -> tuple[Run, list[subprocess.Popen[bytes]]]:
    t0_children = children_cpu()
    procs = start()
    meter = Meter([p.pid for p in procs])
    meter.children0 = t0_children
    for p in reversed(procs):
        p.wait()
    run = meter.stop()
    for p in procs:
        if p.returncode != 0:
            err = p.stderr.read().decode(errors="replace") if p.stderr else ""
            raise SystemExit(f"{p.args[0]} failed with {p.returncode}: {err[-2000:]}")
    return run, procs


def run_plain(url: str) -> Run:
    run, _ = measure(
        lambda: [subprocess.Popen(["pg_dump", "-Fc", url], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)]
    )
    return run


def run_floor(url: str) -> Run:
    """pg_dump -Z0 | zstd -3 with nothing else: what the pipeline costs without Python or upload."""

    def start() -> list[subprocess.Popen[bytes]]:
        dump = subprocess.Popen(
            ["pg_dump", "-Fc", "-Z0", url], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        zstd = subprocess.Popen(
            ["zstd", "-3", "-q", "-c"], stdin=dump.stdout, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        assert dump.stdout is not None and zstd.stdout is not None
        dump.stdout.close()
        counter = threading.Thread(target=lambda: sizes.append(_count(zstd.stdout)), daemon=True)
        counter.start()
        threads.append(counter)
        return [dump, zstd]

    sizes: list[int] = []
    threads: list[threading.Thread] = []
    run, _ = measure(start)
    threads[0].join()
    run.stored = sizes[0]
    return run


def _count(stream: IO[bytes]) -> int:
    total = 0
    while block := stream.read(1024 * 1024):
        total += len(block)
    return total


def run_recipe(url: str, endpoint: str, bucket: str, client: object, n: int, zstd: bool = False) -> Run:
    """The recipe; with ``zstd`` the upload floor: ``pg_dump -Z0 | zstd -1 | aws s3 cp``, no encryption."""
    key = f"recipe/app-{n}{'-zstd' if zstd else ''}.dump"

    def start() -> list[subprocess.Popen[bytes]]:
        dump_argv = ["pg_dump", "-Fc", "-Z0", url] if zstd else ["pg_dump", "-Fc", url]
        procs = [subprocess.Popen(dump_argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)]
        if zstd:
            procs.append(
                subprocess.Popen(
                    ["zstd", "-1", "-q", "-c"],
                    stdin=procs[0].stdout,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                )
            )
        aws = subprocess.Popen(
            [
                str(VENV_BIN / "aws"),
                "--endpoint-url",
                endpoint,
                "s3",
                "cp",
                "-",
                f"s3://{bucket}/{key}",
                "--sse",
                "AES256",
            ],
            stdin=procs[-1].stdout,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for proc in procs:
            assert proc.stdout is not None
            proc.stdout.close()
        return [*procs, aws]

    run, _ = measure(start)
    head = client.head_object(Bucket=bucket, Key=key)  # type: ignore[attr-defined]
    assert head["ServerSideEncryption"] == "AES256"
    client.delete_object(Bucket=bucket, Key=key)  # type: ignore[attr-defined]
    run.stored = int(head["ContentLength"])
    return run


def run_backupbot(env: dict[str, str], cfg_path: Path, storage_cleanup: Callable[[str], None]) -> Run:
    def start() -> list[subprocess.Popen[bytes]]:
        return [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "cli",
                    "--config",
                    str(cfg_path),
                    "--json",
                    "dump",
                    "--database",
                    "bench",
                ],
                cwd=REPO,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        ]

    children0 = children_cpu()
    procs = start()
    meter = Meter([procs[0].pid])
    meter.children0 = children0
    out, err = procs[0].communicate()
    if procs[0].returncode != 0:
        raise SystemExit(f"backupbot dump failed: {err.decode(errors='replace')}")
    manifest = json.loads(out)
    run = meter.stop(int(manifest["stored_bytes"]), int(manifest["dump_bytes"]))
    storage_cleanup(manifest["id"])
    return run


# ------------------------------------------------------------------ main


def fake_aws_credentials() -> None:
    """boto3 wants credentials even for the local moto server; real ones set beforehand win."""
    for var, val in (
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
    ):
        os.environ.setdefault(var, val)


def mb(n: float | None) -> str:
    return "-" if n is None else f"{n / 1e6:,.0f} MB"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--scales", type=int, nargs="+", default=[20, 70], help="pgbench scale factors (default 20 70)"
    )
    ap.add_argument("--runs", type=int, default=3, help="runs of each command per size (default 3)")
    ap.add_argument(
        "--data",
        choices=DATASETS,
        default="xml",
        help="invoice rows: xml (default; gzip fast, zstd smaller) or text (gzip slow); see bench/datasets.py",
    )
    ap.add_argument("--drop", action="store_true", help="drop the benchmark databases afterwards")
    ap.add_argument(
        "--skip-plain",
        action="store_true",
        help="leave out pg_dump -Fc > /dev/null (saves a slow command per round)",
    )
    args = ap.parse_args()

    fake_aws_credentials()
    Meter.postmaster = _postmaster()
    server = start_s3_server()
    Meter.s3_pid = server.process.pid
    rows: list[tuple[str, ...]] = []
    loads: list[float] = []
    try:
        client = server.client()
        bucket = server.new_bucket()
        tmp = Path(tempfile.mkdtemp(prefix="bb-bench-"))
        cfg_path = tmp / "backupbot.toml"
        cfg_path.write_text(
            f'[storage]\nurl = "s3://{bucket}/bb"\nendpoint_url = "{server.endpoint_url}"\nregion = "us-east-1"\n'
            '\n[databases.bench]\ndump_url_env = "BENCH_DUMP_URL"\n'
        )
        env = {
            **os.environ,
            "BACKUPBOT_KEY": base64.b64encode(os.urandom(32)).decode(),
            "BACKUPBOT_STATE_DIR": str(tmp / "state"),
        }

        def cleanup(backup_id: str) -> None:
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="bb/db/"):
                for obj in page.get("Contents", []):
                    client.delete_object(Bucket=bucket, Key=obj["Key"])

        for scale in args.scales:
            url = build_database(scale, args.data)
            Meter.database = database_name(scale, args.data)
            env["BENCH_DUMP_URL"] = url
            with psycopg.connect(url) as conn:
                db_bytes = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]  # type: ignore[index]
            results: dict[str, list[Run]] = {}
            if not args.skip_plain:
                results["pg_dump -Fc > /dev/null"] = []
            results["recipe: pg_dump -Fc | aws s3 cp"] = []
            results["floor: pg_dump -Z0 | zstd -3 > /dev/null"] = []
            results[UPLOAD_FLOOR] = []
            results["backupbot dump"] = []
            for n in range(args.runs):
                loads.append(os.getloadavg()[0])
                print(f"scale {scale}: run {n + 1}/{args.runs} (load {loads[-1]:.1f})", file=sys.stderr)
                if not args.skip_plain:
                    results["pg_dump -Fc > /dev/null"].append(run_plain(url))
                results["recipe: pg_dump -Fc | aws s3 cp"].append(
                    run_recipe(url, server.endpoint_url, bucket, client, n)
                )
                results["floor: pg_dump -Z0 | zstd -3 > /dev/null"].append(run_floor(url))
                results[UPLOAD_FLOOR].append(
                    run_recipe(url, server.endpoint_url, bucket, client, n, zstd=True)
                )
                results["backupbot dump"].append(run_backupbot(env, cfg_path, cleanup))
                for name, runs in results.items():
                    r = runs[-1]
                    print(
                        f"  {name}: {r.wall:.1f} s, CPU {r.cpu:.1f} + PG {r.db_cpu:.1f} + S3 {r.s3_cpu:.1f} s, "
                        f"RSS {r.peak_mb:.0f} MB",
                        file=sys.stderr,
                    )
            logical = results["backupbot dump"][0].logical or 0
            recipe_wall = statistics.median(r.wall for r in results["recipe: pg_dump -Fc | aws s3 cp"])
            recipe_stored = results["recipe: pg_dump -Fc | aws s3 cp"][0].stored
            for name, runs in results.items():
                wall = statistics.median(r.wall for r in runs)
                stored = runs[0].stored
                rows.append(
                    (
                        f"s{scale} {args.data} (db {mb(db_bytes)}, dump {mb(logical)})",
                        name,
                        f"{wall:.1f} s",
                        f"{logical / wall / 1e6:,.0f} MB/s",
                        mb(stored),
                        f"{max(r.peak_mb for r in runs):,.0f} MB",
                        f"{wall / recipe_wall:.2f}x" if "recipe" not in name else "1.00x",
                        f"{stored / recipe_stored:.2f}x" if stored and recipe_stored else "-",
                        f"{statistics.median(r.cpu for r in runs):.1f} s",
                        f"{statistics.median(r.db_cpu for r in runs):.1f} s",
                        f"{statistics.median(r.s3_cpu for r in runs):.1f} s"
                        if "/dev/null" not in name
                        else "-",
                    )
                )
            if args.drop:
                pg.drop_database(database_name(scale, args.data))
    finally:
        server.stop()

    header = (
        "size",
        "command",
        "wall (median)",
        "throughput",
        "stored",
        "peak RSS (tree)",
        "time vs recipe",
        "bytes vs recipe",
        "CPU: own tree",
        "CPU: PG backend",
        "CPU: S3 server",
    )
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print(
        f"\n{args.runs} run(s) each, interleaved; {os.cpu_count()} CPUs; 1-min load average at the start of "
        f"each round {min(loads):.1f}-{max(loads):.1f} (other work on the machine counts against every row); "
        "throughput = plain pg_dump -Fc -Z0 bytes / wall time; CPU = median user+system seconds\n"
    )
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
