"""Ack latency of `/backup status` under load: 50 concurrent signed requests while a dump runs.

Everything is local and real: `python -m bot` as a process (HTTP on waitress), fake Slack,
moto's S3 server, a throwaway PostgreSQL database with ~MB of incompressible rows so the
dump (pg_dump → zstd → AES-GCM → multipart upload) keeps the 2 cores busy meanwhile.
Target: p99 under 300 ms. Run: `.venv/bin/python bench/bench_ack.py [--rounds 5] [--mb 48]`.
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import sys
import tempfile
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.bot.conftest import BOT_TOKEN, SECRET, Bot, fill_incompressible  # noqa: E402
from tests.support import pg  # noqa: E402
from tests.support.fake_slack import FakeSlack  # noqa: E402
from tests.support.s3server import start_s3_server  # noqa: E402
from tests.support.slack_signing import command_body, post_signed  # noqa: E402


def burst(bot: Bot, n: int) -> list[float]:
    barrier = threading.Barrier(n)

    def one(i: int) -> float:
        body = command_body("status", user="U1")
        barrier.wait()
        start = time.perf_counter()
        resp = post_signed(bot.url, SECRET, body, timeout=30)
        took = time.perf_counter() - start
        assert resp.status_code == 200 and "job" in resp.json()["text"], resp.text
        return took

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--mb", type=int, default=48, help="incompressible MB in the database being dumped")
    args = parser.parse_args()

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    s3 = start_s3_server()
    fake = FakeSlack()
    dbname = pg.create_database("bbbench")
    url = pg.url_for(dbname)
    work = Path(tempfile.mkdtemp(prefix="bench-ack-"))
    bot = None
    try:
        fill_incompressible(url, args.mb)
        bucket = s3.new_bucket()
        config = work / "backupbot.toml"
        config.write_text(
            textwrap.dedent(
                f"""
                [storage]
                url = "s3://{bucket}/bb"
                endpoint_url = "{s3.endpoint_url}"
                region = "us-east-1"
                [slack]
                channel = "C1"
                allowed_users = ["U1"]
                [databases.app]
                dump_url_env = "APP_DUMP_URL"
                """
            )
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "BACKUPBOT_"))}
        env.update(
            {
                "BACKUPBOT_CONFIG": str(config),
                "BACKUPBOT_STATE_DIR": str(work / "state"),
                "BACKUPBOT_KEY": base64.b64encode(os.urandom(32)).decode(),
                "APP_DUMP_URL": url,
                "SLACK_BOT_TOKEN": BOT_TOKEN,
                "SLACK_SIGNING_SECRET": SECRET,
                "SLACK_API_URL": fake.api_url,
                "LOG_LEVEL": "WARNING",
            }
        )
        bot = Bot(work, env).start()
        burst(bot, 5)  # warm up connections and imports
        rows = []
        all_lat: list[float] = []
        for r in range(args.rounds):
            store = bot.store()
            if not any(j.status.value in ("queued", "running") for j in store.list_jobs(limit=5)):
                bot.command("dump app")
                while store.list_jobs(limit=1)[0].status.value != "running":
                    time.sleep(0.02)
            running_before = store.list_jobs(limit=1)[0].status.value == "running"
            lat = burst(bot, args.concurrency)
            running_after = store.list_jobs(limit=1)[0].status.value == "running"
            store.close()
            all_lat += lat
            rows.append((f"round {r + 1}", lat, running_before and running_after))
        rows.append(("all", all_lat, all(x[2] for x in rows)))
        print(
            f"\n{args.concurrency} concurrent signed `/backup status` requests per round, dump of {args.mb} MB running\n"
        )
        print("| round | requests | p50 ms | p90 ms | p99 ms | max ms | dump running throughout |")
        print("|---|---|---|---|---|---|---|")
        for name, lat, running in rows:
            ms = [x * 1000 for x in lat]
            print(
                f"| {name} | {len(ms)} | {statistics.median(ms):.0f} | {pct(ms, 90):.0f} | {pct(ms, 99):.0f} "
                f"| {max(ms):.0f} | {'yes' if running else 'no'} |"
            )
        p99 = pct([x * 1000 for x in all_lat], 99)
        print(f"\np99 {p99:.0f} ms — target < 300 ms: {'met' if p99 < 300 else 'NOT met'}")
        return 0
    finally:
        if bot:
            bot.stop()
        fake.stop()
        s3.stop()
        pg.drop_database(dbname)


if __name__ == "__main__":
    raise SystemExit(main())
