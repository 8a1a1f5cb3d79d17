"""The Neon client and backup branches against the fake API: what Neon does, not what we hope."""

from __future__ import annotations

import pytest

from adapters.neon import NeonAuthError, NeonClient, NeonError, NeonLimit, NeonNotFound
from core.config import Config
from core.errors import UsageError
from engine.neon_branches import create_backup_branch, list_backup_branches
from tests.neon.conftest import KEY, PID
from tests.support.fake_neon import FakeNeon


def test_branch_waits_for_its_operation_and_records_who_and_why(
    neon_cfg: Config, fake_neon: FakeNeon
) -> None:
    fake_neon.op_polls = 3
    b = create_backup_branch(
        neon_cfg, "prod", reason="before 0042", requested_by="U0DEV", kind="pre-migration", git_sha="abc123"
    )
    assert b.name.startswith("backup-") and b.parent_name == "main"
    made = fake_neon.branch_named(PID, b.name)
    assert made and made["current_state"] == "ready" and "expires_at" in made
    assert len(fake_neon.calls_to("GET", "/operations/" + fake_neon.ops[PID][0].id)) == 4
    assert all(c.request_id for c in fake_neon.calls)
    listing = list_backup_branches(neon_cfg, "prod")
    assert [(x.name, x.requested_by, x.reason, x.kind, x.git_sha) for x in listing.backups] == [
        (b.name, "U0DEV", "before 0042", "pre-migration", "abc123")
    ]
    # the same day again: -2, never a second branch of the same name
    again = create_backup_branch(neon_cfg, "prod", requested_by="U0DEV")
    assert again.name == b.name + "-2"


def test_a_create_that_timed_out_is_adopted_not_repeated(neon_cfg: Config, fake_neon: FakeNeon) -> None:
    fake_neon.hang_next_create = 1
    b = create_backup_branch(neon_cfg, "prod", name="backup-hang", requested_by="U0DEV")
    assert b.name == "backup-hang"
    assert len(fake_neon.calls_to("POST", "/branches")) == 1
    assert [x["name"] for x in fake_neon.branches[PID].values()].count("backup-hang") == 1


def test_423_429_503_and_524_are_retried(neon_cfg: Config, fake_neon: FakeNeon) -> None:
    fake_neon.busy_next = 2
    fake_neon.throttle_every = 7
    fake_neon.unavailable_next = 1
    b = create_backup_branch(neon_cfg, "prod", requested_by="U0DEV")
    fake_neon.html_524_next = 1
    assert list_backup_branches(neon_cfg, "prod").backups[0].id == b.id
    statuses = {c.status for c in fake_neon.calls}
    assert {423, 429, 503, 524} <= statuses


def test_errors_are_one_clear_message(
    neon_cfg: Config, fake_neon: FakeNeon, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = NeonClient(KEY, fake_neon.url, database="prod", retry_seconds=2, poll_interval=0.05)
    with pytest.raises(NeonNotFound, match="branch 'br-nope-nope-1' not found in project"):
        client.branch(PID, "br-nope-nope-1")
    with pytest.raises(NeonNotFound, match="project 'no-such-project' not found"):
        client.project("no-such-project")
    bad = NeonClient("wrong-key-999", fake_neon.url, database="prod")
    with pytest.raises(NeonAuthError) as auth:
        bad.project(PID)
    assert "wrong-key-999" not in auth.value.render() and "request id" in auth.value.render()
    fake_neon.branch_limit = 3
    create_backup_branch(neon_cfg, "prod", requested_by="U0DEV")
    create_backup_branch(neon_cfg, "prod", requested_by="U0DEV")
    with pytest.raises(NeonLimit) as limit:
        create_backup_branch(neon_cfg, "prod", requested_by="U0DEV")
    assert "(3 branches exist)" in limit.value.message and "/backup prune prod" in (limit.value.hint or "")
    with pytest.raises(UsageError, match="outside the history window"):
        from datetime import UTC, datetime, timedelta

        create_backup_branch(neon_cfg, "prod", at=datetime.now(UTC) - timedelta(days=3))
    fake_neon.busy_next = 1000
    with pytest.raises(NeonError, match="busy with another operation") as busy:
        client.create_branch(PID, {"branch": {"name": "x"}})
    assert "request id" in (busy.value.detail or "")
    fake_neon.busy_next = 0


def test_the_fake_rejects_what_the_spec_rejects(fake_neon: FakeNeon) -> None:
    import requests

    h = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    requests.post(
        f"{fake_neon.url}/projects/{PID}/branches",
        json={"branch": {"parent_timestamp": "yesterday"}},
        headers=h,
        timeout=5,
    )
    requests.post(f"{fake_neon.url}/projects/{PID}/branches/br-x-y-z/restore", json={}, headers=h, timeout=5)
    assert len(fake_neon.validation_errors) == 2, fake_neon.validation_errors
    assert (
        "date-time" in fake_neon.validation_errors[0] and "source_branch_id" in fake_neon.validation_errors[1]
    )
    fake_neon.validation_errors.clear()


def test_a_busy_project_says_what_is_still_running(fake_neon: FakeNeon) -> None:
    client = NeonClient(KEY, fake_neon.url, database="prod", retry_seconds=1.5, poll_interval=0.05)
    fake_neon.op_polls = 10_000
    first = client.create_branch(PID, {"branch": {"name": "slow-one"}})
    with pytest.raises(NeonError) as busy:
        client.create_branch(PID, {"branch": {"name": "second"}})
    detail = busy.value.detail or ""
    assert f"Still running: create_branch on {first['branch']['id']}" in detail and "request id" in detail
    assert fake_neon.branch_named(PID, "second") is None


def test_branch_at_a_moment_in_the_window(neon_cfg: Config, fake_neon: FakeNeon) -> None:
    from datetime import UTC, datetime, timedelta

    at = (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0)
    b = create_backup_branch(neon_cfg, "prod", at=at, requested_by="U0DEV", keep=True)
    (call,) = fake_neon.calls_to("POST", "/branches")
    assert call.body["branch"]["parent_timestamp"] == at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert "expires_at" not in call.body["branch"] and "endpoints" not in call.body  # --keep; no compute
    assert b.point_in_time == call.body["branch"]["parent_timestamp"]


def test_after_a_nightly_dump_expired_branches_go_and_a_refusal_is_said_once(
    neon_cfg: Config, fake_neon: FakeNeon
) -> None:
    from jobs.events import StepResult
    from jobs.neon_retention import prune_neon_branches
    from jobs.queue import enqueue
    from jobs.store import Store

    class Steps:
        def __init__(self) -> None:
            self.lines: list[StepResult] = []

        def step(self, job: object, result: StepResult) -> None:
            self.lines.append(result)

    store = Store.for_config(neon_cfg)
    a = create_backup_branch(neon_cfg, "prod", name="backup-a", requested_by="cron")
    b = create_backup_branch(neon_cfg, "prod", name="backup-b", requested_by="cron")
    create_backup_branch(neon_cfg, "prod", name="backup-c", requested_by="cron")
    for x in (a, b):
        fake_neon.branches[PID][x.id]["expires_at"] = "2020-01-01T00:00:00Z"
    fake_neon.branches[PID][a.id]["created_at"] = fake_neon.branches[PID][b.id]["created_at"] = (
        "2020-01-01T00:00:00Z"
    )
    fake_neon.undeletable.add(b.id)
    job = enqueue(store, "dump", "prod", {})
    rep = Steps()
    prune_neon_branches(neon_cfg, store, rep, job)  # type: ignore[arg-type]
    prune_neon_branches(neon_cfg, store, rep, job)  # type: ignore[arg-type]
    first, second = rep.lines[0].detail, rep.lines[1].detail
    assert "1 deleted" in first and "Neon refused to delete `backup-b`" in first
    assert "backup-b" not in second and fake_neon.branch_named(PID, "backup-a") is None
    assert len(fake_neon.calls_to("DELETE", b.id)) == 1


def test_the_listing_shows_what_a_pipeline_wrote_as_text(neon_cfg: Config, fake_neon: FakeNeon) -> None:
    from commands.branches import render_listing

    create_backup_branch(
        neon_cfg, "prod", reason="<!channel> see `rm` <http://x|here>", requested_by="ci:<bob>"
    )
    text = "\n".join(render_listing(list_backup_branches(neon_cfg, "prod")))
    assert "<!channel>" not in text and "<http" not in text and "&lt;!channel&gt;" in text
    assert "by ci:&lt;bob&gt;" in text


def test_a_524_on_create_is_looked_up_before_sending_again(neon_cfg: Config, fake_neon: FakeNeon) -> None:
    fake_neon.html_524_next = 0
    real_answer = fake_neon._answer
    first = {"done": False}

    def answer(method, rel, query, headers, body, rid):  # type: ignore[no-untyped-def]
        if method == "POST" and rel.endswith("/branches") and not first["done"]:
            first["done"] = True
            real_answer(method, rel, query, headers, body, rid)  # Neon made it; the edge timed out
            return 524, b"<html>A timeout occurred</html>", {}
        return real_answer(method, rel, query, headers, body, rid)

    fake_neon._answer = answer  # type: ignore[method-assign]
    b = create_backup_branch(neon_cfg, "prod", name="backup-524", requested_by="U0DEV")
    assert b.name == "backup-524" and len(fake_neon.calls_to("POST", "/branches")) == 1
    assert [x["name"] for x in fake_neon.branches[PID].values()].count("backup-524") == 1


def test_a_lost_answer_does_not_adopt_someone_elses_branch(neon_cfg: Config, fake_neon: FakeNeon) -> None:
    real_answer = fake_neon._answer
    first = {"done": False}

    def answer(method, rel, query, headers, body, rid):  # type: ignore[no-untyped-def]
        if method == "POST" and rel.endswith("/branches") and not first["done"]:
            first["done"] = True  # a person made a branch of that name; ours never arrived
            fake_neon._new_branch(PID, body["branch"]["name"], fake_neon.branch_named(PID, "main"), "theirs")
            return 524, b"<html>A timeout occurred</html>", {}
        return real_answer(method, rel, query, headers, body, rid)

    fake_neon._answer = answer  # type: ignore[method-assign]
    b = create_backup_branch(neon_cfg, "prod", requested_by="U0DEV")
    assert b.name.endswith("-2") and fake_neon.branches[PID][b.id]["_content"] == "prod-v1"
