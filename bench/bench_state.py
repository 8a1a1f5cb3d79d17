"""The state store's cost: ack latency of `/backup dump` and jobs per minute, SQLite vs PostgreSQL.

Each ack writes to the store (a job row, its audit row, the Slack outbox), so its latency is
where the store shows; jobs per minute is how fast queued dumps of a small database get
claimed, run and recorded. Shapes: one `python -m bot` process with its runner (SQLite, then
PostgreSQL), and web + two `python -m jobs` workers (PostgreSQL only: SQLite cannot span
machines). Everything is local and real: fake Slack, moto's S3 server, PostgreSQL 15.
Run: `.venv/bin/python bench/bench_state.py [--jobs 60] [--concurrency 20]`.
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from jobs.store import Store  # noqa: E402
from tests.shared_state.machines import Machine, base_env, running, web, worker, write_config  # noqa: E402
from tests.support import pg  # noqa: E402
from tests.support.fake_slack import FakeSlack  # noqa: E402
from tests.support.s3server import start_s3_server  # noqa: E402

DATABASES = ["app0", "app1", "app2", "app3"]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def run_shape(front: Machine, store: Store, jobs: int, concurrency: int) -> tuple[list[float], float]:
    """Ack latencies of ``jobs`` dump requests (``concurrency`` at a time) and jobs per minute."""
    lock = threading.Lock()
    lat: list[float] = []

    def one(i: int) -> None:
        start = time.perf_counter()
        resp = front.command(f"dump {DATABASES[i % len(DATABASES)]}")
        took = time.perf_counter() - start
        assert resp.status_code == 200 and "Queued" in resp.json()["text"], resp.text
        with lock:
            lat.append(took)

    started = time.monotonic()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(jobs)))
    while True:
        done = store.list_jobs(kind="dump", limit=jobs + 10)
        if len(done) >= jobs and all(j.status.terminal for j in done):
            break
        time.sleep(0.1)
    bad = [j for j in done if j.status.value != "succeeded"]
    assert not bad, [(j.id, j.status, j.error) for j in bad]
    return lat, jobs / ((time.monotonic() - started) / 60)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=60)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    s3 = start_s3_server()
    fake = FakeSlack()
    source = pg.create_database("bbbench")
    source_url = pg.url_for(source)
    with psycopg.connect(source_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (id int PRIMARY KEY, v text)")
        conn.execute("INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 2000) g")
    key = base64.b64encode(os.urandom(32)).decode()
    rows = []
    try:
        for shape in ("sqlite, one process", "postgresql, one process", "postgresql, web + 2 workers"):
            work = Path(tempfile.mkdtemp(prefix="bench-state-"))
            config = write_config(work / "backupbot.toml", s3.new_bucket(), s3.endpoint_url, DATABASES)
            state_db = pg.create_database("bbbenchstate") if shape.startswith("postgresql") else None
            url = pg.url_for(state_db) if state_db else ""
            env = base_env(config, url, key, fake, source_url)
            env["LOG_LEVEL"] = "WARNING"
            if not url:
                env.pop("BACKUPBOT_STATE_URL")
            if "workers" in shape:
                procs = [web(work, "web", env), worker(work, "w1", env), worker(work, "w2", env)]
            else:
                procs = [Machine("web", work, ["bot"], env, web=True)]
            try:
                with running(*procs):
                    state_dir = procs[0].workdir / "state"
                    store = Store(state_dir / "backupbot.sqlite3", url=url or "")
                    with ThreadPoolExecutor(args.concurrency) as pool:  # every web thread has its connection
                        list(
                            pool.map(
                                lambda _, front=procs[0]: front.command("status"), range(args.concurrency * 2)
                            )
                        )
                    lat, per_minute = run_shape(procs[0], store, args.jobs, args.concurrency)
                    store.close()
                rows.append((shape, lat, per_minute))
            finally:
                if state_db:
                    pg.drop_database(state_db)
    finally:
        fake.stop()
        s3.stop()
        pg.drop_database(source)
    print(
        f"\n{args.jobs} signed `/backup dump` requests ({args.concurrency} at a time) over 4 databases, 2 cores\n"
    )
    print("| state store | acks | p50 ms | p99 ms | max ms | jobs/minute |")
    print("|---|---|---|---|---|---|")
    for shape, lat, per_minute in rows:
        ms = [x * 1000 for x in lat]
        print(
            f"| {shape} | {len(ms)} | {statistics.median(ms):.0f} | {pct(ms, 99):.0f} | {max(ms):.0f} "
            f"| {per_minute:.0f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
