"""Two processes reporting the same job post one message: the first post is claimed in the store.

Two outboxes share one store, as a web process and a worker do; Slack is the fake Slack Web
API. While Slack answers 503 both try to post the job's first message; once it is back,
exactly one message exists, showing the job as it is, and the other outbox's news went into
an edit of it. A claim whose process is gone is taken over, so the job is still posted.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient

from bot import render
from bot.outbox import Outbox
from jobs.status import JobStatus
from jobs.store import Job, Store
from tests.support.fake_slack import FakeSlack

pytestmark = pytest.mark.usefixtures("state_backend")  # the claim is portable SQL: both stores


@pytest.fixture
def store(tmp_path: Path, state_backend: str) -> Iterator[Store]:
    s = Store(tmp_path / "bb.sqlite3")
    yield s
    s.close()


def outbox(fake: FakeSlack, store: Store) -> Outbox:
    client = WebClient(token="xoxb-test", base_url=fake.api_url, timeout=2, retry_handlers=[])

    def rendered(job: Job) -> tuple[str, list[dict[str, Any]]]:
        return render.job_text(job), render.job_blocks(job)

    return Outbox(client, store, rendered, default_channel="C1", backoff=lambda failures, unreachable: 0.05)


def posts(fake: FakeSlack) -> int:
    """First posts Slack took (thread lines would carry a thread_ts; these jobs have none)."""
    return len([c for c in fake.api_calls("chat.postMessage") if c.status == 200])


def test_two_processes_post_a_jobs_first_message_once(store: Store, fake_slack: FakeSlack) -> None:
    job = store.create_job("dump", "app", {"kind": "manual"}, requested_by="U1", channel="C1")
    web, worker = outbox(fake_slack, store), outbox(fake_slack, store)
    fake_slack.refusals_expected = True
    try:
        fake_slack.down(503)
        web.touch(job.id)
        worker.touch(job.id)
        fake_slack.wait_for(
            lambda: len(fake_slack.api_calls("chat.postMessage")) >= 1,
            what="a post attempt while Slack is down",
        )
        store.transition(job.id, JobStatus.QUEUED, JobStatus.RUNNING)
        worker.touch(job.id)  # the worker started it: its news must reach the one message too
        fake_slack.down(None)
        assert web.flush(20) and worker.flush(20)
    finally:
        web.close()
        worker.close()
    messages = fake_slack.messages("C1")
    assert len(messages) == 1, [m.text for m in messages]
    assert "running (job 1)" in messages[0].text
    assert store.get_job(job.id).message_ts == messages[0].ts
    assert posts(fake_slack) == 1
    later = outbox(fake_slack, store)
    try:
        later._sweep(grace=0)
    finally:
        later.close()
    # the claim has done its work once the ts is stored: the sweep deletes it, the table does not grow
    assert list(store.db.query("SELECT job_id FROM slack_first_post")) == []


def test_a_claim_of_a_process_that_is_gone_is_taken_over(store: Store, fake_slack: FakeSlack) -> None:
    job = store.create_job("dump", "app", {"kind": "manual"}, requested_by="U1", channel="C1")
    fake_slack.refusals_expected = True
    fake_slack.down(503)
    first = outbox(fake_slack, store)
    first.touch(job.id)
    fake_slack.wait_for(lambda: fake_slack.api_calls("chat.postMessage"), what="the first process's attempt")
    first.close(timeout=0.2)  # the process is gone with the claim taken and nothing posted
    first._thread.join(5)
    claim = list(store.db.query("SELECT owner FROM slack_first_post WHERE job_id = ?", [job.id]))
    assert [r["owner"] for r in claim] == [first.owner]

    fake_slack.down(None)
    second = outbox(fake_slack, store)
    try:
        second.touch(job.id)
        assert second.flush(20)
    finally:
        second.close()
    messages = fake_slack.messages("C1")
    assert len(messages) == 1 and "queued (job 1)" in messages[0].text
    assert store.get_job(job.id).message_ts == messages[0].ts
    assert posts(fake_slack) == 1


def test_waiting_for_another_process_never_holds_up_the_rest(
    store: Store, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A live process that claimed a job's first post but has not sent it yet (its queue is long)
    does not stall the other process: after a while the wait is left to the sweep."""
    import bot.outbox

    monkeypatch.setattr(bot.outbox, "CLAIM_PATIENCE", 0.5)
    job = store.create_job("dump", "app", {"kind": "manual"}, requested_by="U1", channel="C1")
    busy, other = outbox(fake_slack, store), outbox(fake_slack, store)
    try:
        with store.transaction() as db:  # ``busy`` claimed it and has not got to it yet
            db.execute(
                "INSERT INTO slack_first_post (job_id, owner, seen_at) VALUES (?, ?, ?)",
                [job.id, busy.owner, 1e12],
            )
        other.touch(job.id)
        other.post("C2", "an alert that must not wait")
        assert other.flush(10)
        assert [m.text for m in fake_slack.messages("C2")] == ["an alert that must not wait"]
        assert fake_slack.messages("C1") == []  # the job's message is ``busy``'s to post
        busy.touch(job.id)
        assert busy.flush(10)
    finally:
        busy.close()
        other.close()
    assert len(fake_slack.messages("C1")) == 1
