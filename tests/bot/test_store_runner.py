"""The job store and runner on their own: compare-and-set, lanes, parallelism, cancel, recovery."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.config import embedded_default
from core.errors import BackupbotError
from jobs import kinds
from jobs.context import JobContext
from jobs.events import Outcome, ProgressUpdate, StepResult
from jobs.queue import ahead_of, enqueue
from jobs.runner import Runner
from jobs.status import JobStatus
from jobs.store import Job, Store

pytestmark = pytest.mark.usefixtures("state_backend")  # the store's suite runs on SQLite and PostgreSQL


class Recorder:
    """A reporter that keeps every call, for asserting what people would have been told."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return lambda *args: self.calls.append((name, args))

    def names(self, job_id: int) -> list[str]:
        return [n for n, a in self.calls if a and isinstance(a[0], Job) and a[0].id == job_id]


GATES: dict[str, threading.Event] = {}
LOG: list[tuple[str, str, float]] = []


def _gated(ctx: JobContext) -> Outcome:
    """A test kind: waits for its gate (or cancel), logging start and end."""
    name = ctx.job.params["name"]
    LOG.append(("start", name, time.monotonic()))
    ctx.progress("working", elapsed=0.1)
    with ctx.step("wait"):
        gate = GATES.setdefault(name, threading.Event())
        while not gate.wait(0.02):
            ctx.check_cancelled()
    if ctx.job.params.get("fail"):
        raise BackupbotError("it broke", detail="on purpose", hint="fix the test")
    if ctx.job.params.get("crash"):
        raise RuntimeError("boom postgresql://u:hunter2@db/x")
    LOG.append(("end", name, time.monotonic()))
    return Outcome(summary=f"{name} ok", fields=(("Name", name),), data={"name": name})


kinds.register(kinds.JobKind(name="gated", run=_gated))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "state" / "bb.sqlite3")
    yield s
    s.close()


@pytest.fixture
def runner_factory(store: Store) -> Iterator[Any]:
    made: list[Runner] = []

    def make(**kw: Any) -> tuple[Runner, Recorder]:
        rec = Recorder()
        r = Runner(embedded_default(), store, rec, poll_interval=0.05, **kw)
        made.append(r)
        return r.start(), rec

    yield make
    for gate in GATES.values():
        gate.set()
    for r in made:
        r.stop(timeout=5)
    GATES.clear()
    LOG.clear()


def wait_for(pred: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def status(store: Store, job: Job) -> JobStatus:
    return store.get_job(job.id).status


def test_transition_is_compare_and_set_with_audit(store: Store) -> None:
    job = store.create_job("gated", "prod", {"name": "a"}, requested_by="U1", channel="C1")
    assert job.status == JobStatus.QUEUED and job.lane == "prod"
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def claim() -> None:
        barrier.wait()
        results.append(store.transition(job.id, JobStatus.QUEUED, JobStatus.RUNNING, actor="w"))

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 1
    job = store.get_job(job.id)
    assert job.status == JobStatus.RUNNING and job.started_at
    events = [(r["event"], r["from_status"], r["to_status"]) for r in store.audit_rows(job.id)]
    assert events == [("created", None, "queued"), ("running", "queued", "running")]
    assert not store.transition(job.id, JobStatus.QUEUED, JobStatus.CANCELLED)


def test_locks_and_kv_claims(store: Store) -> None:
    assert store.acquire_lock("target:prod", "job-1", job_id=1)
    assert not store.acquire_lock("target:prod", "job-2")
    assert store.lock_holder("target:prod")["holder"] == "job-1"
    assert store.release_lock("target:prod", "job-1")
    assert store.acquire_lock("target:prod", "job-2", ttl_seconds=0.01)
    time.sleep(0.02)
    assert store.acquire_lock("target:prod", "job-3")  # expired
    assert store.kv_claim("slot:prod:2026-01-01T03:00")
    assert not store.kv_claim("slot:prod:2026-01-01T03:00")
    store.kv_set("x", {"a": 1})
    assert store.kv_get("x") == {"a": 1} and store.kv_get("missing", 5) == 5


def test_same_database_in_order_others_in_parallel(store: Store, runner_factory: Any) -> None:
    runner, rec = runner_factory(max_parallel=2)
    a1 = enqueue(store, "gated", "prod", {"name": "a1"}, reporter=rec)
    a2 = enqueue(store, "gated", "prod", {"name": "a2"})
    b1 = enqueue(store, "gated", "staging", {"name": "b1"})
    c1 = enqueue(store, "gated", "other", {"name": "c1"})
    assert [j.id for j in ahead_of(store, a2)] == [a1.id]
    wait_for(lambda: status(store, a1) == JobStatus.RUNNING and status(store, b1) == JobStatus.RUNNING)
    time.sleep(0.2)
    assert status(store, a2) == JobStatus.QUEUED  # same database waits
    assert status(store, c1) == JobStatus.QUEUED  # max_parallel reached
    GATES["a1"].set()
    wait_for(lambda: status(store, a1) == JobStatus.SUCCEEDED)
    wait_for(lambda: status(store, a2) == JobStatus.RUNNING or status(store, c1) == JobStatus.RUNNING)
    for name in ("a2", "b1", "c1"):
        GATES.setdefault(name, threading.Event()).set()
    wait_for(lambda: all(status(store, j) == JobStatus.SUCCEEDED for j in (a2, b1, c1)))
    starts = {n: t for e, n, t in LOG if e == "start"}
    ends = {n: t for e, n, t in LOG if e == "end"}
    assert starts["a2"] >= ends["a1"]
    done = store.get_job(a1.id)
    assert done.result == {"summary": "a1 ok", "fields": [["Name", "a1"]], "name": "a1"}
    wait_for(lambda: "finished" in rec.names(a1.id))  # the reporter hears it after the store has it
    assert rec.names(a1.id)[:2] == ["queued", "started"] and rec.names(a1.id)[-1] == "finished"
    assert any(n == "step" and a[1] == StepResult("wait", "ok", a[1].duration) for n, a in rec.calls)
    assert any(n == "progress" and isinstance(a[1], ProgressUpdate) for n, a in rec.calls)


def test_failures_and_crashes_are_recorded_without_secrets(store: Store, runner_factory: Any) -> None:
    runner, rec = runner_factory()
    bad = enqueue(store, "gated", "prod", {"name": "bad", "fail": True})
    crash = enqueue(store, "gated", "staging", {"name": "crash", "crash": True})
    GATES.setdefault("bad", threading.Event()).set()
    GATES.setdefault("crash", threading.Event()).set()
    wait_for(lambda: status(store, bad) == JobStatus.FAILED and status(store, crash) == JobStatus.FAILED)
    assert store.get_job(bad.id).error == {
        "error": "BackupbotError",
        "message": "it broke",
        "detail": "on purpose",
        "hint": "fix the test",
    }
    err = store.get_job(crash.id).error
    assert "hunter2" not in str(err) and "RuntimeError" in err["detail"]
    assert "hunter2" not in str(rec.calls)


def test_cancel_queued_and_running(store: Store, runner_factory: Any) -> None:
    runner, rec = runner_factory()
    first = enqueue(store, "gated", "prod", {"name": "first"})
    second = enqueue(store, "gated", "prod", {"name": "second"})
    wait_for(lambda: status(store, first) == JobStatus.RUNNING)
    assert store.request_cancel(second.id, "U2").status == JobStatus.CANCELLED
    assert store.request_cancel(first.id, "U2").cancel_requested
    wait_for(lambda: status(store, first) == JobStatus.CANCELLED)
    # the store says "cancelled" first, then the reporter hears it: wait for that, then nothing after it
    wait_for(lambda: "failed" in rec.names(first.id))
    assert rec.names(first.id)[-1] == "failed"
    assert [r["event"] for r in store.audit_rows(first.id)] == [
        "created",
        "running",
        "cancel_requested",
        "cancelled",
    ]
    # a finished job is returned unchanged
    assert store.request_cancel(first.id, "U2").status == JobStatus.CANCELLED


def test_recover_marks_dead_workers_interrupted(store: Store, runner_factory: Any) -> None:
    cleaned: list[int] = []
    kinds.register(
        kinds.JobKind(
            name="gated2", run=_gated, on_interrupted=lambda ctx: cleaned.append(ctx.job.id) or "cleaned"
        )
    )
    dead = store.create_job("gated2", "prod", {"name": "d"})
    assert store.transition(
        dead.id,
        JobStatus.QUEUED,
        JobStatus.RUNNING,
        worker=f"{os.uname().nodename}:999999:x",
        heartbeat_at=time.time(),
    )
    alive = store.create_job("gated2", "staging", {"name": "e"}, status=JobStatus.AWAITING_APPROVAL)
    assert store.transition(
        alive.id,
        JobStatus.AWAITING_APPROVAL,
        JobStatus.RUNNING,
        worker=f"{os.uname().nodename}:{os.getppid()}:y",
        heartbeat_at=time.time(),
    )
    runner, rec = runner_factory()
    job = store.get_job(dead.id)
    assert job.status == JobStatus.INTERRUPTED and cleaned == [dead.id]
    assert "cleaned" in job.error["detail"] and "/backup gated2 prod" in job.error["hint"]
    assert rec.names(dead.id) == ["failed"]
    assert status(store, alive) == JobStatus.RUNNING  # its process (our parent) is alive and beating
