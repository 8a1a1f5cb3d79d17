"""Prune against the local S3 server: the dry run deletes nothing, --confirm leaves exactly the
policy's set (manifest and object gone together), the guard holds when the nightly is failing,
and Object Lock is reported, not fought."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.storage import open_storage
from cli.main import main
from core.config import Config, load_config
from engine.prune import DELETE, KEEP, LOCKED, apply_prune, plan_prune
from jobs import schedule_runs
from jobs.status import JobStatus
from jobs.store import Store
from tests.conftest import ConfigWriter
from tests.support.backups import object_ids, stored_ids, write_backup
from tests.support.s3server import S3Server


def history(cfg: Config, now: datetime) -> tuple[set[str], set[str]]:
    """40 nightlies, a pre-migration every 4 days, one manual; returns (all ids, ids to keep)."""
    storage = open_storage(cfg.storage)
    nightly = [now - timedelta(hours=1, days=k) for k in range(40)]
    ids, keep = set(), set()
    for k, t in enumerate(nightly):
        m = write_backup(cfg, "prod", "daily", t, storage)
        ids.add(m.id)
        if k < 7:
            keep.add(m.id)  # daily: the seven newest days
    first_of_prev = next(
        k for k, t in enumerate(nightly) if (t.year, t.month) != (nightly[0].year, nightly[0].month)
    )
    keep.add(
        next(i for i in ids if i == f"prod-{nightly[first_of_prev]:%Y%m%dT%H%M%SZ}-daily")
    )  # monthly: last month
    for k in range(0, 40, 4):
        m = write_backup(cfg, "prod", "pre-migration", now - timedelta(days=k, hours=5), storage)
        ids.add(m.id)
        if k * 24 + 5 < 30 * 24:
            keep.add(m.id)
    m = write_backup(cfg, "prod", "manual", now - timedelta(days=35), storage)
    ids.add(m.id)
    return ids, keep


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def test_dry_run_then_confirm_leaves_exactly_the_policy_set(
    s3_config: Config, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    ids, keep = history(s3_config, now)
    assert stored_ids(s3_config, "prod") == ids

    code, out = cli(capsys, "prune", "--database", "prod", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["confirm"] is False
    rows = {b["id"]: b for b in report["databases"][0]["backups"]}
    assert {i for i, b in rows.items() if b["action"] == DELETE} == ids - keep
    assert all(b["rules"] for i, b in rows.items() if i in keep)
    assert stored_ids(s3_config, "prod") == ids, "a dry run must not delete"

    code, out = cli(capsys, "prune", "--database", "prod")
    assert code == 0 and "would delete" in out and "dry run" in out and "daily " in out

    code, out = cli(capsys, "prune", "--database", "prod", "--confirm", "--json")
    assert code == 0
    assert {
        b["id"] for b in json.loads(out)["databases"][0]["backups"] if b["action"] == "deleted"
    } == ids - keep
    assert stored_ids(s3_config, "prod") == keep
    assert object_ids(s3_config, "prod") == keep, "deleted backups must not leave their objects behind"

    # Idempotent: a second run finds nothing more to delete, and says so.
    plan = plan_prune(s3_config, "prod", now=now)
    assert not plan.to_delete
    code, out = cli(capsys, "prune", "--database", "prod")
    assert code == 0 and f"prod: {len(keep)} kept, nothing to delete" in out


def test_guard_holds_when_the_latest_scheduled_run_failed(
    s3_config: Config, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    ids, _ = history(s3_config, now)
    store = Store.for_config(s3_config)
    schedule_runs.ensure_schema(store)
    job = schedule_runs.claim(
        store,
        entry="dump:prod",
        slot=now,
        job_kind="dump",
        database="prod",
        worker="test",
        create_job=lambda: store.create_job(
            "dump", "prod", {"kind": "daily", "schedule": "dump:prod"}, requested_by="scheduler"
        ),
    )
    assert job is not None
    store.transition(job.id, JobStatus.QUEUED, JobStatus.RUNNING)
    store.transition(job.id, JobStatus.RUNNING, JobStatus.FAILED, error={"message": "database down"})
    store.close()

    code, out = cli(capsys, "prune", "--database", "prod", "--confirm")
    assert code == 0
    assert "pruning guard" in out and "latest scheduled backup failed" in out
    assert stored_ids(s3_config, "prod") == ids

    # The next good scheduled backup lifts the guard.
    write_backup(s3_config, "prod", "daily", datetime.now(UTC) + timedelta(seconds=1))
    plan = apply_prune(
        s3_config,
        plan_prune(
            s3_config, "prod", last_failure=schedule_runs.last_scheduled_failure_if_store(s3_config, "prod")
        ),
    )
    assert plan.guard is None and plan.deleted


def test_guard_holds_when_the_schedule_stopped(s3_config: Config) -> None:
    now = datetime.now(UTC)
    for k in range(10):
        write_backup(s3_config, "prod", "daily", now - timedelta(hours=30, days=k))
    before = stored_ids(s3_config, "prod")
    plan = apply_prune(s3_config, plan_prune(s3_config, "prod", now=now))
    assert plan.guard and "30 h old" in plan.guard
    assert stored_ids(s3_config, "prod") == before


def test_object_lock_is_reported_not_fought(
    s3_server: S3Server, write_config: ConfigWriter, capsys: pytest.CaptureFixture[str]
) -> None:
    bucket = s3_server.new_bucket(object_lock=True)
    path: Path = write_config(
        f"s3://{bucket}/backups",
        {"prod": "postgresql://localhost/unused"},
        endpoint_url=s3_server.endpoint_url,
    )
    text = path.read_text().replace(
        'region = "us-east-1"\n',
        'region = "us-east-1"\nobject_lock_mode = "GOVERNANCE"\nobject_lock_days = 1\n',
        1,
    )
    path.write_text(text)
    cfg = load_config(str(path))
    now = datetime.now(UTC)
    for k in range(10):
        write_backup(cfg, "prod", "daily", now - timedelta(hours=1, days=k))
    before = stored_ids(cfg, "prod")

    plan = plan_prune(cfg, "prod", now=now)
    locked = [i for i in plan.items if i.action == LOCKED]
    # Every backup retention would delete is under retention for another day: kept, not deleted.
    assert locked and not plan.to_delete
    assert {i.backup_id for i in locked} == {i.backup_id for i in plan.items if i.action != KEEP}
    assert all(i.locked_until and i.locked_until > now for i in locked)

    code, out = cli(capsys, "prune", "--database", "prod", "--confirm")
    assert code == 0, out
    assert "locked until" in out
    assert stored_ids(cfg, "prod") == before
