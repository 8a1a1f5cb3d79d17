"""Benchmark: what exact row counts in the dump's snapshot cost, next to estimates and plain pg_dump.

    .venv/bin/python bench/bench_counts.py                  # pgbench scale 20 (xml data set), 3 runs
    .venv/bin/python bench/bench_counts.py --scales 20 70 --runs 3

For each database (bench/datasets.py, built once and kept) it measures, interleaved so a
neighbour's load hits them alike (median wall seconds):

  * counting alone, exact: count(*) of every table in one REPEATABLE READ snapshot
  * counting alone, estimate: pg_class.reltuples (row_counts = "estimate")
  * pg_dump -Fc -Z0 > /dev/null                     (the dump without counting)
  * backupbot dump, row_counts = "exact"            (counts run beside pg_dump, same snapshot)
  * backupbot dump, row_counts = "estimate"

into a local folder (file:// storage), so the upload does not hide the difference.
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from datasets import build_database  # noqa: E402

from adapters import pg_contents  # noqa: E402
from core.config import parse_config  # noqa: E402
from engine.dump import run_dump  # noqa: E402


def _timed(fn: Callable[[], object]) -> float:
    started = time.monotonic()
    fn()
    return time.monotonic() - started


def _count(url: str, mode: str) -> pg_contents.Contents:
    snap = pg_contents.SourceSnapshot(url, mode)
    try:
        snap.start_counting()
        return snap.result()
    finally:
        snap.close()


def measure(url: str, runs: int, store: str) -> dict[str, list[float]]:
    os.environ["BENCH_URL"] = url
    cfgs = {
        mode: parse_config(
            {
                "storage": {"url": f"file://{store}/{mode}"},
                "databases": {"bench": {"dump_url_env": "BENCH_URL", "row_counts": mode}},
            },
            "bench.toml",
        )
        for mode in ("exact", "estimate")
    }
    steps: dict[str, Callable[[], object]] = {
        "count, exact (alone)": lambda: _count(url, "exact"),
        "count, estimate (alone)": lambda: _count(url, "estimate"),
        "pg_dump -Fc -Z0 > /dev/null": lambda: subprocess.run(
            ["pg_dump", "-Fc", "-Z0", url], stdout=subprocess.DEVNULL, check=True
        ),
        'backupbot dump, row_counts = "exact"': lambda: run_dump(cfgs["exact"], "bench"),
        'backupbot dump, row_counts = "estimate"': lambda: run_dump(cfgs["estimate"], "bench"),
    }
    out: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(runs):
        for name, fn in steps.items():
            out[name].append(_timed(fn))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scales", type=int, nargs="+", default=[20])
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    os.environ.setdefault("BACKUPBOT_KEY", base64.b64encode(os.urandom(32)).decode())
    print(f"{'scale':>5}  {'rows':>10}  {'what':<40} {'median s':>9}")
    for scale in args.scales:
        url = build_database(scale)
        rows = sum(n or 0 for n in _count(url, "exact").tables.values())
        with tempfile.TemporaryDirectory() as store:
            result = measure(url, args.runs, store)
        for name, times in result.items():
            print(f"{scale:>5}  {rows:>10}  {name:<40} {statistics.median(times):>9.2f}")


if __name__ == "__main__":
    main()
