"""The approval rules as every surface meets them: typed (`/backup approve`), clicked, or raced."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from commands.base import Invocation
from commands.grammar import dispatch
from commands.permissions import GroupDirectory
from core.config import Config, parse_config
from core.errors import ConfigError
from jobs.approvals import create_request, decide, expire_due, job_binding
from jobs.status import JobStatus
from jobs.store import Job, Store

pytestmark = pytest.mark.usefixtures("state_backend")  # the store's suite runs on SQLite and PostgreSQL


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "bb.sqlite3")
    yield s
    s.close()


def config(tmp_path: Path, required: int = 1) -> Config:
    raw = {
        "storage": {"url": (tmp_path / "store").as_uri()},
        "runner": {"approval_timeout_minutes": 30},
        "databases": {
            "staging": {
                "dump_url_env": "X",
                "approvers": ["U0LEAD1", "U0LEAD2"],
                "approver_group": "S0LEADS",
                "approvals_required": required,
            },
            "scratch": {"dump_url_env": "Y"},
        },
    }
    return parse_config(raw, "test.toml")


DIRECTORY = GroupDirectory(lambda group: ["U0LEAD3"] if group == "S0LEADS" else [])


def request(store: Store, cfg: Config) -> Job:
    return create_request(
        store,
        cfg,
        backup_id="app-20260101T030000Z-daily",
        target="staging",
        requested_by="U0DEV",
        channel="C1",
    )


def typed(store: Store, cfg: Config, user: str, text: str) -> str:
    inv = Invocation(user=user, channel="C1", cfg=cfg, store=store, directory=DIRECTORY)
    return dispatch(text, inv).text


def test_typed_decisions_follow_the_same_rules(store: Store, tmp_path: Path) -> None:
    cfg = config(tmp_path, required=2)
    job = request(store, cfg)
    assert job.status == JobStatus.AWAITING_APPROVAL
    assert "you can't approve it" in typed(store, cfg, "U0DEV", f"approve {job.id}")
    assert "You can't approve this" in typed(store, cfg, "U0NOBODY", f"approve {job.id}")
    assert "1 of 2" in typed(store, cfg, "U0LEAD1", f"approve {job.id}")
    assert "already answered" in typed(store, cfg, "U0LEAD1", f"approve {job.id}")
    assert store.get_job(job.id).status == JobStatus.AWAITING_APPROVAL
    assert "starts now" in typed(store, cfg, "U0LEAD3", f"approve {job.id}")  # via the user group
    done = store.get_job(job.id)
    assert done.status == JobStatus.QUEUED and done.params["approved_by"] == ["U0LEAD1", "U0LEAD3"]
    events = [r["event"] for r in store.audit_rows(job.id)]
    assert events.count("approve_refused") == 2 and events.count("restore_approved") == 1


def test_requester_may_withdraw_and_requests_expire(store: Store, tmp_path: Path) -> None:
    cfg = config(tmp_path)
    job = request(store, cfg)
    assert "withdrawn" in typed(store, cfg, "U0DEV", f"deny {job.id}")
    assert store.get_job(job.id).status == JobStatus.CANCELLED

    late = request(store, cfg)
    assert expire_due(store, cfg, now=time.time() + 29 * 60) == []
    assert [j.id for j in expire_due(store, cfg, now=time.time() + 31 * 60)] == [late.id]
    assert store.get_job(late.id).status == JobStatus.EXPIRED
    assert "already expired" in typed(store, cfg, "U0LEAD1", f"approve {late.id}")


def test_an_approval_for_something_else_does_not_count(store: Store, tmp_path: Path) -> None:
    cfg = config(tmp_path)
    job = request(store, cfg)
    other = decide(store, cfg, job.id, "U0LEAD1", "approve", "f" * 20, directory=DIRECTORY)
    assert other.outcome == "stale" and store.get_job(job.id).status == JobStatus.AWAITING_APPROVAL
    # params edited after the request was shown: the binding no longer matches what the job is now
    store.update_job(job.id, params={**job.params, "backup_id": "app-20250101T030000Z-daily"})
    shown = job.params["binding"]
    assert decide(store, cfg, job.id, "U0LEAD1", "approve", shown, directory=DIRECTORY).outcome == "stale"
    assert job_binding(store.get_job(job.id)) != shown


def test_many_leads_at_once_start_it_once(store: Store, tmp_path: Path) -> None:
    cfg = config(tmp_path)
    job = request(store, cfg)
    binding = job.params["binding"]
    outcomes: list[str] = []

    def click(user: str) -> None:
        outcomes.append(decide(store, cfg, job.id, user, "approve", binding, directory=DIRECTORY).outcome)

    threads = [threading.Thread(target=click, args=(u,)) for u in ["U0LEAD1", "U0LEAD2", "U0LEAD3"] * 3]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("approved") == 1
    assert store.get_job(job.id).status == JobStatus.QUEUED
    assert [r["event"] for r in store.audit_rows(job.id)].count("restore_approved") == 1


def test_a_target_nobody_can_approve_is_refused(store: Store, tmp_path: Path) -> None:
    cfg = config(tmp_path)
    with pytest.raises(ConfigError) as err:
        create_request(store, cfg, backup_id="x", target="scratch", requested_by="U0DEV", channel="C1")
    assert "nobody can approve" in err.value.message and "--break-glass" in (err.value.hint or "")
