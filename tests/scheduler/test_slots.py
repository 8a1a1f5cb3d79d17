"""Cron slots become jobs: once per slot, once after downtime, never twice across processes."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.config import parse_config
from core.errors import ConfigError
from jobs.events import NullReporter
from jobs.scheduler import ScheduleEntry, Scheduler, entries_from_config
from jobs.store import Store

pytestmark = pytest.mark.usefixtures("state_backend")  # the store's suite runs on SQLite and PostgreSQL

RAW = {
    "storage": {"url": "file:///tmp/unused"},
    "databases": {
        "prod": {"dump_url_env": "X", "schedule": "0 3 * * *", "timezone": "America/Panama"},
        "staging": {"dump_url_env": "Y"},
        "scratch": {"dump_url_env": "Z", "schedule": ""},
    },
}
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def scheduler(path: Path, raw: dict = RAW) -> Scheduler:
    # deadman_every far away: these tests are about slots, not the bucket.
    return Scheduler(
        parse_config(raw, "t.toml"), Store(path), NullReporter(), deadman_every=timedelta(days=10_000)
    )


def dump_jobs(store: Store) -> list:
    return list(reversed(store.list_jobs(kind="dump", limit=100)))


def test_entries_default_to_3am_utc_and_empty_schedule_means_none() -> None:
    entries = {e.database: e for e in entries_from_config(parse_config(RAW, "t.toml"))}
    assert set(entries) == {"prod", "staging"}
    assert (entries["staging"].cron, entries["staging"].timezone) == ("0 3 * * *", "UTC")
    assert entries["prod"].params["kind"] == "daily"


def test_a_slot_runs_once_in_the_schedules_time_zone(tmp_path: Path) -> None:
    s = scheduler(tmp_path / "s.db")
    assert s.tick(T0) == []  # first sight: starts watching, runs nothing from the past
    assert s.tick(T0 + timedelta(hours=14)) == []  # 02:00 UTC: nothing due
    s.tick(T0 + timedelta(hours=15, minutes=1))
    jobs = dump_jobs(s.store)
    # 03:00 UTC on Mar 2 is staging's slot; 03:00 in Panama is 08:00 UTC, not due at 03:01 UTC.
    assert [(j.database, j.params["slot"]) for j in jobs] == [("staging", "2026-03-02T03:00:00Z")]
    s.tick(T0 + timedelta(hours=20, minutes=1))
    jobs = dump_jobs(s.store)
    assert [(j.database, j.params["slot"]) for j in jobs][-1] == ("prod", "2026-03-02T08:00:00Z")
    assert len(jobs) == 2
    s.tick(T0 + timedelta(hours=20, minutes=2))  # same slots again: nothing new
    assert len(dump_jobs(s.store)) == 2
    job = jobs[-1]
    assert (job.requested_by, job.channel, job.params["kind"], job.params["schedule"]) == (
        "scheduler",
        "",
        "daily",
        "dump:prod",
    )


def test_after_downtime_the_missed_run_runs_once(tmp_path: Path) -> None:
    s = scheduler(tmp_path / "s.db")
    s.tick(T0)
    s.tick(T0 + timedelta(days=1))  # Mar 2 slots
    before = len(dump_jobs(s.store))
    # Down from Mar 2 12:00 until Mar 6 12:00: four nights missed per database.
    restarted = scheduler(tmp_path / "s.db")
    started = restarted.tick(T0 + timedelta(days=5))
    assert sorted((j.database, j.params["slot"], j.params["missed_slots"]) for j in started) == [
        ("prod", "2026-03-06T08:00:00Z", 3),
        ("staging", "2026-03-06T03:00:00Z", 3),
    ]
    assert len(dump_jobs(restarted.store)) == before + 2
    assert restarted.tick(T0 + timedelta(days=5, minutes=5)) == []


def test_two_processes_never_run_the_same_slot(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    first = [scheduler(path) for _ in range(6)]
    for s in first:
        s.tick(T0)
    barrier = threading.Barrier(len(first))
    results: list[int] = []

    def run(s: Scheduler) -> None:
        barrier.wait()
        results.append(len(s.tick(T0 + timedelta(days=1))))

    threads = [threading.Thread(target=run, args=(s,)) for s in first]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(results) == 2  # one job per database, whoever won
    assert len(dump_jobs(Store(path))) == 2


def test_a_changed_cron_starts_watching_afresh(tmp_path: Path) -> None:
    s = scheduler(tmp_path / "s.db")
    s.tick(T0)
    raw = {**RAW, "databases": {"prod": {"dump_url_env": "X", "schedule": "30 1 * * *"}}}
    changed = scheduler(tmp_path / "s.db", raw)
    assert changed.tick(T0 + timedelta(hours=1)) == []  # 01:30 of Mar 1 is before the change
    assert [j.params["slot"] for j in changed.tick(T0 + timedelta(hours=14))] == ["2026-03-02T01:30:00Z"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [("schedule", "every night", "not a cron expression"), ("timezone", "Mars/Olympus", "unknown time zone")],
)
def test_bad_schedule_settings_are_named(field: str, value: str, message: str) -> None:
    raw = {**RAW, "databases": {"prod": {"dump_url_env": "X", field: value}}}
    with pytest.raises(ConfigError) as err:
        entries_from_config(parse_config(raw, "t.toml"))
    assert message in err.value.message and "[databases.prod]" in str(err.value.detail)


def test_generic_entries_run_any_job_kind(tmp_path: Path) -> None:
    entry = ScheduleEntry("prune", "prod", "0 4 1 * *", "UTC", {"confirm": True})
    s = Scheduler(parse_config(RAW, "t.toml"), Store(tmp_path / "s.db"), NullReporter(), entries=[entry])
    s.tick(T0)
    [job] = s.tick(datetime(2026, 4, 1, 4, 0, 5, tzinfo=UTC))
    assert (job.kind, job.params["confirm"], job.params["slot"]) == ("prune", True, "2026-04-01T04:00:00Z")
