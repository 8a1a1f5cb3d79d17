"""The portable SQL every module writes through ``store.db``, on both backends alike.

Each statement here is one a module of the bot uses (or may use): the same call must
give the same rows on SQLite and on PostgreSQL, or the PostgreSQL state is not a
drop-in for the file.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlite_utils.db import NotFoundError

from jobs.status import JobStatus
from jobs.store import Store

pytestmark = pytest.mark.usefixtures("state_backend")


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "bb.sqlite3")
    yield s
    s.close()


def test_a_module_table_declared_once_works_on_both(store: Store) -> None:
    with store.transaction() as db:
        db["things"].create(
            {"id": int, "name": str, "size": float, "n": int, "user": str},
            pk="id",
            not_null={"name"},
            defaults={"n": 0},
            if_not_exists=True,
        )
        db["things"].create_index(["name"], unique=True, if_not_exists=True)
        db["things"].create({"id": int, "name": str}, pk="id", if_not_exists=True)  # again: no error
    with store.transaction() as db:
        first = db["things"].insert({"name": "a", "size": 1.5, "user": "U1"}).last_pk
        second = db["things"].insert({"name": "b", "size": 2.0, "user": "U2"}).last_pk
    assert (first, second) == (1, 2)
    ignored = store.db.execute("INSERT OR IGNORE INTO things (name, size) VALUES (?, ?)", ["a", 9.0])
    assert ignored.rowcount == 0
    cur = store.db.execute("INSERT OR IGNORE INTO things (name, size) VALUES (?, ?)", ["c", 3.0])
    assert (
        cur.rowcount == 1 and store.db["things"].get(cur.lastrowid)["name"] == "c"
    )  # PostgreSQL may skip ids
    store.db.execute(
        "INSERT INTO things (name, size) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET size = things.size + 1",
        ["a", 0.0],
    )
    rows = list(store.db.query("SELECT name, size, n, user FROM things ORDER BY id"))
    assert rows == [
        {"name": "a", "size": 2.5, "n": 0, "user": "U1"},
        {"name": "b", "size": 2.0, "n": 0, "user": "U2"},
        {"name": "c", "size": 3.0, "n": 0, "user": None},
    ]
    assert store.db.execute("SELECT count(*) FROM things WHERE name LIKE ?", ["%"]).fetchone()[0] == 3
    assert [tuple(r) for r in store.db.execute("SELECT name FROM things WHERE id = ?", [2])] == [("b",)]
    assert list(store.db.query("SELECT name FROM things WHERE size > :s ORDER BY id", {"s": 2.2})) == [
        {"name": "a"},
        {"name": "c"},
    ]
    store.db["things"].update(2, {"size": 7.0})
    assert store.db["things"].get(2)["size"] == 7.0
    with pytest.raises(NotFoundError):
        store.db["things"].update(99, {"size": 1.0})
    store.db["things"].upsert({"id": 2, "name": "b2"}, pk="id")
    assert store.db["things"].get(2) | {} == {"id": 2, "name": "b2", "size": 7.0, "n": 0, "user": "U2"}
    store.db.execute("INSERT OR REPLACE INTO kv (key, value, updated_at) VALUES (?, ?, ?)", ["k", '"1"', "t"])
    store.db.execute("INSERT OR REPLACE INTO kv (key, value, updated_at) VALUES (?, ?, ?)", ["k", '"2"', "t"])
    assert store.kv_get("k") == "2"
    assert "things" in store.db.table_names()


def test_json_extract_and_a_failed_transaction_rolls_back(store: Store) -> None:
    store.create_job("dump", "prod", {"schedule": "dump:prod", "retry_of": 7})
    store.create_job("dump", "prod", {})
    got = list(
        store.db.query(
            "SELECT id FROM jobs WHERE json_extract(params, '$.schedule') IS NOT NULL "
            "AND CAST(json_extract(params, '$.retry_of') AS INTEGER) = ?",
            [7],
        )
    )
    assert got == [{"id": 1}]
    store.kv_set("v", {"a": 1})
    assert next(store.db.query("SELECT json_extract(value, '$.a') AS a FROM kv WHERE key = 'v'"))["a"] in (
        1,
        "1",
    )
    with pytest.raises(RuntimeError), store.transaction() as db:
        db.execute("DELETE FROM jobs")
        raise RuntimeError("stop")
    assert len(store.list_jobs()) == 2


def test_finished_threads_do_not_keep_postgresql_connections(store: Store, state_backend: str) -> None:
    if state_backend != "postgresql":
        pytest.skip("SQLite connections are files, not server slots")
    for _ in range(60):  # a worker runs every job in a thread of its own
        t = threading.Thread(target=lambda: store.kv_get("x"))
        t.start()
        t.join()
    store.kv_get("x")
    n = next(store.db.query("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database()"))[
        "n"
    ]
    assert n <= 5


def test_runners_racing_for_jobs_claim_each_once_and_one_per_lane(store: Store, tmp_path: Path) -> None:
    jobs = [store.create_job("dump", f"db{i % 3}") for i in range(12)]
    runners = [Store(tmp_path / "bb.sqlite3") for _ in range(4)]  # four processes' handles
    won: list[tuple[int, str]] = []
    lock = threading.Lock()
    go = threading.Barrier(len(runners))

    def run(s: Store, name: str) -> None:
        go.wait()
        for job in jobs:
            if s.claim_job(job, name, attempts=1):
                with lock:
                    won.append((job.id, name))

    threads = [threading.Thread(target=run, args=(s, f"w{i}")) for i, s in enumerate(runners)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in runners:
        s.close()
    assert len(won) == 3  # one job per lane, each claimed by one runner
    running = store.list_jobs(statuses=[JobStatus.RUNNING])
    assert sorted(j.lane for j in running) == ["db0", "db1", "db2"]
    assert {j.id for j in running} == {i for i, _ in won}
    for job in running:
        starts = [r for r in store.audit_rows(job.id) if r["to_status"] == "running"]
        assert len(starts) == 1 and starts[0]["actor"] == job.worker and job.started_at and job.attempts == 1
