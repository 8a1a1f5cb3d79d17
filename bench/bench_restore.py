"""Benchmark: `backupbot restore` against the recipe it replaces, same dump contents, same server.

    .venv/bin/python bench/bench_restore.py                      # pgbench scale 70 (~1 GB), 3 runs
    .venv/bin/python bench/bench_restore.py --scales 5 --runs 1  # a quick check

Builds the source database once (the same one bench_dump.py builds: pgbench plus XML-ish
invoice rows), starts moto's S3 server, stores it once the way the recipe does
(``pg_dump -Fc | aws s3 cp -``) and once with ``backupbot dump``, then restores each into
a fresh empty database, several times, side by side:

  * recipe: aws s3 cp s3://…/app.dump - | pg_restore --clean --if-exists
  * floor: pg_restore -j 2 from a local uncompressed file (pg_dump -Fc -Z0 -f, so with data
    offsets): what the server itself needs, with no download, decryption or staging
  * backupbot restore ID --target T --break-glass, four ways (the whole runbook: lock, safety
    dump of the target, download + decrypt + stage, pg_restore -j N, runbook entry):
    swap staged (into a new database, then renamed into place), the same with maintenance =
    "switch", clean staged (in place, pg_restore --clean), and a streamed swap (restore_jobs = 1:
    what restore_mode = "auto" picks where no core is left beside the -j workers)

and prints the median wall time of each, the time of backupbot's restore step alone (for
clean also its two halves: staging the dump, pg_restore), the ratio to the recipe and to the
floor, and how long the target was unavailable: from maintenance_on to maintenance_off (the
hooks are `true`, so this is the bot's own time), and the switch alone. Each restore is
checked (row counts equal to the source).

Fairness: each side restores its own artifact (the recipe a default ``pg_dump -Fc``, i.e.
gzip inside, uploaded with ``aws s3 cp``; backupbot its own backup of the same database)
into a fresh empty database created the same way on the same server. Runs are interleaved
and the order flips every round; a CHECKPOINT before each restore keeps one run's WAL from
being flushed during the next. The load average is printed with the table: on a shared
machine the absolute times move, the ratio much less.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.bench_dump import fake_aws_credentials  # noqa: E402
from bench.datasets import DATASETS, build_database  # noqa: E402
from tests.support import pg  # noqa: E402
from tests.support.s3server import start_s3_server  # noqa: E402

VENV_BIN = Path(sys.executable).parent
TABLES = ("pgbench_accounts", "pgbench_history", "invoices")


def source_database(scale: int, data: str = "xml") -> str:
    """A copy of bench_dump's database under our own name, so its --drop never pulls it away mid-run."""
    name = f"bb_restore_bench_s{scale}" if data == "xml" else f"bb_restore_bench_{data}_s{scale}"
    url = pg.url_for(name)
    with psycopg.connect(pg.ADMIN_URL, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return url
        base = build_database(scale, data).rsplit("/", 1)[1]
        for attempt in range(10):
            try:
                conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{base}"')
                return url
            except psycopg.errors.ObjectInUse:  # someone is connected to the template: try again shortly
                time.sleep(1 + attempt)
    raise SystemExit(f"could not copy {base}: it stays in use")


def counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return {t: int(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in TABLES}  # type: ignore[index]


def checkpoint() -> None:
    with psycopg.connect(pg.ADMIN_URL, autocommit=True) as conn:
        conn.execute("CHECKPOINT")


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def run(
    argv: list[str], env: dict[str, str] | None = None, stdin: int | None = None
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        argv, env=env, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO
    )


def recipe_store(url: str, endpoint: str, bucket: str) -> None:
    dump = run(["pg_dump", "-Fc", url])
    aws = run(
        [
            str(VENV_BIN / "aws"),
            "--endpoint-url",
            endpoint,
            "s3",
            "cp",
            "-",
            f"s3://{bucket}/recipe/app.dump",
        ],
        stdin=dump.stdout.fileno(),
    )  # type: ignore[union-attr]
    dump.stdout.close()  # type: ignore[union-attr]
    if aws.wait() != 0 or dump.wait() != 0:
        raise SystemExit("storing the recipe's dump failed")


def recipe_restore(target: str, endpoint: str, bucket: str) -> float:
    t0 = time.monotonic()
    aws = run(
        [str(VENV_BIN / "aws"), "--endpoint-url", endpoint, "s3", "cp", f"s3://{bucket}/recipe/app.dump", "-"]
    )
    restore = run(["pg_restore", "--clean", "--if-exists", f"--dbname={target}"], stdin=aws.stdout.fileno())  # type: ignore[union-attr]
    aws.stdout.close()  # type: ignore[union-attr]
    _, err = restore.communicate()
    aws.wait()
    if restore.returncode != 0 or aws.returncode != 0:
        raise SystemExit(f"recipe restore failed: {err.decode(errors='replace')[-2000:]}")
    return time.monotonic() - t0


SIDES = ("recipe", "floor", "swap", "switch", "clean", "streamed")


def floor_restore(target: str, path: Path) -> None:
    proc = subprocess.run(
        ["pg_restore", "-j", "2", f"--dbname={target}", str(path)], capture_output=True, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"floor restore failed: {proc.stderr.decode(errors='replace')[-2000:]}")


def unavailable(steps: list[dict[str, object]]) -> float:
    """Seconds from maintenance_on's start to maintenance_off's end: the steps in between, summed."""
    titles = [str(s["step"]) for s in steps]
    first, last = titles.index("Maintenance on"), titles.index("Maintenance off")
    return sum(float(s["seconds"] or 0) for s in steps[first : last + 1])  # type: ignore[arg-type]


def backupbot(env: dict[str, str], cfg: Path, *args: str) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-m", "cli", "--config", str(cfg), "--json", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"backupbot {args[0]} failed: {proc.stderr.decode(errors='replace')[-2000:]}")
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scales", type=int, nargs="+", default=[70], help="pgbench scale factors (default 70)")
    ap.add_argument("--runs", type=int, default=3, help="runs of each restore per size (default 3)")
    ap.add_argument("--data", choices=DATASETS, default="xml", help="invoice rows (see bench/datasets.py)")
    cores = len(os.sched_getaffinity(0))
    ap.add_argument(
        "--jobs",
        type=int,
        default=cores,
        help=f"restore_jobs for backupbot (default: the {cores} cores here)",
    )
    args = ap.parse_args()
    fake_aws_credentials()
    loads = [load_average()]
    server = start_s3_server()
    rows: list[tuple[str, ...]] = []
    try:
        bucket = server.new_bucket()
        tmp = Path(tempfile.mkdtemp(prefix="bb-bench-restore-"))
        cfg = tmp / "backupbot.toml"
        cfg.write_text(
            f'[storage]\nurl = "s3://{bucket}/bb"\nendpoint_url = "{server.endpoint_url}"\nregion = "us-east-1"\n'
            f'[runner]\nstaging_dir = "{tmp / "staging"}"\n'
            '[databases.bench]\ndump_url_env = "BENCH_URL"\nmigrate = []\n'
            + "".join(
                f'[databases.{name}]\ndump_url_env = "TARGET_URL"\nrestore_url_env = "TARGET_URL"\nmigrate = []\n'
                f'{"" if name == "streamed" else f"restore_jobs = {args.jobs}"}\nmaintenance_on = ["true"]\nmaintenance_off = ["true"]\n{extra}\n'
                for name, extra in (
                    ("swap", 'restore_method = "swap"\nrestore_mode = "staged"'),
                    ("switch", 'restore_method = "swap"\nrestore_mode = "staged"\nmaintenance = "switch"'),
                    ("clean", 'restore_method = "clean"\nrestore_mode = "staged"'),
                    ("streamed", 'restore_method = "swap"\nrestore_jobs = 1'),
                )
            )
        )
        env = {
            **os.environ,
            "BACKUPBOT_KEY": base64.b64encode(os.urandom(32)).decode(),
            "BACKUPBOT_STATE_DIR": str(tmp / "state"),
        }
        for scale in args.scales:
            source = source_database(scale, args.data)
            env["BENCH_URL"] = source
            want = counts(source)
            print(f"scale {scale}: storing the dump both ways …", file=sys.stderr)
            recipe_store(source, server.endpoint_url, bucket)
            manifest = backupbot(env, cfg, "dump", "--database", "bench")
            local = tmp / "floor.dump"
            subprocess.run(["pg_dump", "-Fc", "-Z0", "-f", str(local), source], check=True)
            walls: dict[str, list[float]] = {side: [] for side in SIDES}
            steps: dict[str, list[float]] = {side: [] for side in SIDES}
            down: dict[str, list[float]] = {side: [] for side in SIDES}
            switch: dict[str, list[float]] = {side: [] for side in SIDES}
            bb_staged: list[float] = []
            bb_pg_restore: list[float] = []

            for n in range(args.runs):
                print(f"scale {scale}: run {n + 1}/{args.runs} (load {load_average()})", file=sys.stderr)
                for side in SIDES if n % 2 == 0 else tuple(reversed(SIDES)):
                    with pg.temp_database(f"bb{side}") as target:
                        env["TARGET_URL"] = target
                        checkpoint()
                        t0 = time.monotonic()
                        if side == "recipe":
                            recipe_restore(target, server.endpoint_url, bucket)
                        elif side == "floor":
                            floor_restore(target, local)
                        else:
                            report = backupbot(
                                env,
                                cfg,
                                "restore",
                                str(manifest["id"]),
                                "--target",
                                side,
                                "--break-glass",
                                "--reason",
                                "benchmark",
                            )
                            by_key = {str(s["step"]): s for s in report["steps"]}  # type: ignore[union-attr]
                            step_rec = next(v for k, v in by_key.items() if k.startswith("Restore"))
                            steps[side].append(float(step_rec["seconds"]))  # type: ignore[arg-type]
                            down[side].append(unavailable(report["steps"]))  # type: ignore[arg-type]
                            if "Switch databases" in by_key:
                                switch[side].append(float(by_key["Switch databases"]["seconds"]))  # type: ignore[arg-type]
                            m = re.search(
                                r"staged in ([\d.]+) s, pg_restore ([\d.]+) s", str(step_rec["detail"])
                            )
                            if m:
                                bb_staged.append(float(m.group(1)))
                                bb_pg_restore.append(float(m.group(2)))
                        walls[side].append(time.monotonic() - t0)
                        assert counts(target) == want, f"the {side} restore is incomplete"
            recipe = statistics.median(walls["recipe"])
            floor = statistics.median(walls["floor"])
            label = f"s{scale} {args.data} (dump {int(manifest['dump_bytes']) / 1e6:,.0f} MB)"

            def row(
                what: str,
                seconds: float,
                down_s: str = "",
                label: str = label,
                recipe: float = recipe,
                floor: float = floor,
            ) -> None:
                rows.append(
                    (
                        label,
                        what,
                        f"{seconds:.1f} s",
                        f"{seconds / recipe:.2f}x",
                        f"{seconds / floor:.2f}x",
                        down_s,
                    )
                )

            row("recipe: aws s3 cp … - | pg_restore --clean --if-exists", recipe)
            row("floor: pg_restore -j 2 from a local uncompressed file", floor)
            for side, what in (
                ("swap", "backupbot swap, staged (new database, renamed in)"),
                ("switch", 'backupbot swap, maintenance = "switch"'),
                ("clean", "backupbot clean (pg_restore --clean in place)"),
                (
                    "streamed",
                    "backupbot swap, streamed (no staging, no -j: auto's choice without a spare core)",
                ),
            ):
                unavailable_s = statistics.median(down[side])
                sw = f"; switch {statistics.median(switch[side]):.2f} s" if switch[side] else ""
                row(
                    f"{what}, whole runbook" + ("" if side == "streamed" else f", -j {args.jobs}"),
                    statistics.median(walls[side]),
                    f"{unavailable_s:.1f} s{sw}",
                )
                row("  of which the restore step", statistics.median(steps[side]))
            for what, values in (
                ("    clean staging: download, decrypt, decompress, write, find data offsets", bb_staged),
                (f"    clean pg_restore -j {args.jobs} from the staged file", bb_pg_restore),
            ):
                if values:
                    row(what, statistics.median(values))
    finally:
        server.stop()
    loads.append(load_average())
    print(
        f"{args.runs} interleaved runs each, median; {cores} cores; load average at start {loads[0]}, at end {loads[-1]}"
    )
    print()
    header = ("size", "command", "wall (median)", "vs recipe", "vs floor", "target unavailable")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, tuple("-" * w for w in widths), *rows]:
        print(" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
