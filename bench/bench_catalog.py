"""Benchmark: what finding backups costs at 1,000 / 10,000 / 50,000 backups, cold and warm cache.

    .venv/bin/python bench/bench_catalog.py                     # 1,000 and 10,000 backups
    .venv/bin/python bench/bench_catalog.py --sizes 1000 10000 50000

For each size a fresh bucket on moto's S3 server is filled with that many backups of three
databases (real manifests and tiny placeholder objects written straight with boto3, several
at once: no dumps), a third of them nightlies, the rest pre-deploy backups, one every few
hours going back months. Then each command runs as a whole ``backupbot`` process, as a
deploy pipeline runs it, through a proxy that counts the requests the S3 server receives:

  * backupbot list                      every backup of every database
  * backupbot show latest:prod          the newest backup of one database
  * backupbot show <id prefix>          one backup named by its id down to the minute
  * backupbot prune                     the retention dry run of all three databases

each twice: cold (the manifest cache in the state directory deleted first) and warm (right
after); with ``--before DIR`` also once with the code checked out in DIR, for comparison. The table gives wall time and the requests by kind (LIST, GET, HEAD, other). A
floor row times what no catalog can avoid: listing every key once, with
``aws s3 ls --recursive`` (a whole process too), through the same proxy.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from engine.manifest import Manifest  # noqa: E402
from engine.manifest_cache import CACHE_FILE  # noqa: E402
from tests.support.catalog_fill import fake_manifest, put_backups  # noqa: E402
from tests.support.s3count import GET, HEAD, LIST, CountingProxy  # noqa: E402
from tests.support.s3server import start_s3_server  # noqa: E402

BACKUPBOT = Path(sys.executable).parent / "backupbot"
DATABASES = ("prod", "staging", "billing")
NEWEST = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)


def backups(total: int) -> list[Manifest]:
    """``total`` backups of three databases: a nightly each day, pre-deploys every 3 hours between."""
    per_db = total // len(DATABASES)
    out = []
    for i, database in enumerate(DATABASES):
        for k in range(per_db):
            at = NEWEST - timedelta(hours=3 * k, seconds=i)
            out.append(fake_manifest(database, at, kind="daily" if k % 8 == 0 else "pre-deploy"))
    return out


def write_config(folder: Path, bucket: str, endpoint: str) -> Path:
    dbs = "".join(
        f'\n[databases.{d}]\ndump_url_env = "BENCH_URL"\nrestore_url_env = "BENCH_URL"\n' for d in DATABASES
    )
    path = folder / "backupbot.toml"
    path.write_text(
        textwrap.dedent(f"""\
            [storage]
            url = "s3://{bucket}/backups"
            endpoint_url = "{endpoint}"
            region = "us-east-1"
            """)
        + dbs
    )
    (folder / "state").mkdir(exist_ok=True)
    return path


def run(
    config: Path, proxy: CountingProxy, argv: list[str], before: Path | None = None
) -> tuple[float, Counter[str]]:
    """One whole ``backupbot`` process; with ``before``, the code checked out there (``python -m cli.main``)."""
    env = {**os.environ, "BACKUPBOT_CONFIG": str(config)}
    env.pop("BACKUPBOT_STATE_DIR", None)
    command = [sys.executable, "-m", "cli.main"] if before else [str(BACKUPBOT)]
    proxy.reset()
    start = time.perf_counter()
    done = subprocess.run(
        [*command, *argv], env=env, cwd=before, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"backupbot {' '.join(argv)} failed:\n{done.stderr.decode()}")
    return took, proxy.counts


def floor(bucket: str, proxy: CountingProxy) -> tuple[float, Counter[str]]:
    aws = Path(sys.executable).parent / "aws"
    argv = [
        str(aws),
        "s3",
        "ls",
        "--recursive",
        f"s3://{bucket}/backups/db/",
        "--endpoint-url",
        proxy.endpoint_url,
    ]
    proxy.reset()
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start, proxy.counts


def requests(counts: Counter[str]) -> str:
    other = sum(v for k, v in counts.items() if k not in (LIST, GET, HEAD))
    return f"{counts[LIST]} / {counts[GET]} / {counts[HEAD]} / {other}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument(
        "--before",
        type=Path,
        help="a checkout of older code (git worktree add DIR COMMIT) to run each command with too, once",
    )
    args = parser.parse_args()
    for var, value in (("AWS_ACCESS_KEY_ID", "bench"), ("AWS_SECRET_ACCESS_KEY", "bench")):
        os.environ.setdefault(var, value)
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    server = start_s3_server()
    proxy = CountingProxy(server.endpoint_url)
    rows = []
    try:
        for size in args.sizes:
            bucket = server.new_bucket()
            made = backups(size)
            start = time.perf_counter()
            put_backups(server.client(), bucket, "backups/", made)
            print(f"{len(made):,} backups written in {time.perf_counter() - start:.0f} s", file=sys.stderr)
            probe = sorted((m for m in made if m.database == "prod"), key=lambda m: m.created_at)[
                len(made) // 6
            ]
            commands = [
                ("list", ["list"]),
                ("show latest:prod", ["show", "latest:prod"]),
                (
                    f"show {probe.id[: len('prod-20260101T0000')]}",
                    ["show", probe.id[: len("prod-20260101T0000")]],
                ),
                ("prune (dry run)", ["prune"]),
            ]
            bare = floor(bucket, proxy)
            rows.append(
                (f"{len(made):,}", "floor: aws s3 ls --recursive (every key, once)", bare, bare, None)
            )
            with tempfile.TemporaryDirectory(prefix="bench-catalog-") as tmp:
                config = write_config(Path(tmp), bucket, proxy.endpoint_url)
                for label, argv in commands:
                    old = run(config, proxy, argv, args.before) if args.before else None
                    (Path(tmp) / "state" / CACHE_FILE).unlink(missing_ok=True)
                    cold = run(config, proxy, argv)
                    warm = run(config, proxy, argv)
                    rows.append((f"{len(made):,}", label, cold, warm, old))
                    print(f"  {label}: cold {cold[0]:.2f} s, warm {warm[0]:.2f} s", file=sys.stderr)
    finally:
        proxy.stop()
        server.stop()
    load = os.getloadavg()
    print()
    print(f"load average at the end: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} on {os.cpu_count()} cores")
    print("requests: LIST / GET / HEAD / other, as the S3 server received them")
    print()
    before = " before: time | before: requests |" if args.before else ""
    print(f"| backups | command |{before} cold: time | cold: requests | warm: time | warm: requests |")
    print("|---:|---|" + ("---:|---:|" if args.before else "") + "---:|---:|---:|---:|")
    for size, label, (cold_s, cold_n), (warm_s, warm_n), old in rows:
        then = ""
        if args.before:
            then = f" {old[0]:.2f} s | {requests(old[1])} |" if old else " - | - |"
        if label.startswith("floor"):
            print(f"| {size} | {label} |{then} {cold_s:.2f} s | {requests(cold_n)} | - | - |")
            continue
        print(
            f"| {size} | `{label}` |{then} {cold_s:.2f} s | {requests(cold_n)} | {warm_s:.2f} s | {requests(warm_n)} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
