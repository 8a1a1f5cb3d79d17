"""The outbox against a Slack that refuses or is gone: no job's message is lost, none is sent twice.

The outbox, the store and the rendering are the real ones; Slack is the fake Slack Web
API (behind a TCP gate that refuses connections while Slack is unreachable). A ten-minute
outage runs on a simulated clock: the outbox's retry schedule is the real one, only its
waiting is replaced, so the test takes seconds.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient

from bot import render
from bot.outbox import Outbox
from jobs.events import Alert
from jobs.status import JobStatus
from jobs.store import Job, Store
from tests.bot.slack_gate import SlackGate
from tests.support.fake_slack import FakeSlack


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "bb.sqlite3")
    yield s
    s.close()


def client(url: str) -> WebClient:
    # No SDK-level retries: the outbox's own schedule is what is under test.
    return WebClient(token="xoxb-test", base_url=url, timeout=2, retry_handlers=[])


def rendered(job: Job) -> tuple[str, list[dict[str, Any]]]:
    return render.job_text(job), render.job_blocks(job)


def new_job(store: Store, reason: str = "", channel: str = "C1") -> Job:
    return store.create_job(
        "dump", "app", {"kind": "manual", "reason": reason}, requested_by="U1", channel=channel
    )


def outbox_rows(store: Store) -> int:
    return int(next(iter(store.db.query("SELECT count(*) AS n FROM slack_outbox")))["n"])


def test_a_reason_longer_than_slack_takes_still_reaches_the_channel(
    store: Store, fake_slack: FakeSlack
) -> None:
    job = new_job(store, reason="before the import " * 400)  # 7,200 characters
    box = Outbox(client(fake_slack.api_url), store, rendered, default_channel="C1")
    try:
        box.touch(job.id)
        box.post(
            "C1",
            "alert " + "x" * 5000,
            render.alert_payload(Alert(title="t " * 3000, error={"detail": "d" * 9000}))[1],
        )
        assert box.flush(20)
    finally:
        box.close()
    messages = fake_slack.messages("C1")
    assert len(messages) == 2 and fake_slack.refused == []
    blocks = json.dumps(messages[0].blocks, ensure_ascii=False)
    assert "before the import" in blocks and "…" in blocks
    assert (
        store.get_job(job.id).params["reason"].count("before the import") == 400
    )  # the whole reason is kept


def test_a_message_slack_refuses_for_its_blocks_is_sent_as_text(
    store: Store, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    job = new_job(store, reason="nightly by hand")
    fake_slack.refuse_blocks(2)  # a limit we did not know about
    box = Outbox(client(fake_slack.api_url), store, rendered, default_channel="C1")
    try:
        with caplog.at_level(logging.ERROR, logger="bot.outbox"):
            box.touch(job.id)
            box.post(
                "C1",
                "Backup of app failed (job 9)",
                [{"type": "section", "text": {"type": "mrkdwn", "text": "x"}}],
            )
            assert box.flush(20)
    finally:
        box.close()
    messages = fake_slack.messages("C1")
    assert [m.blocks for m in messages] == [None, None]
    assert "Backup of `app`" in messages[0].text and "(job 1)" in messages[0].text
    assert messages[1].text == "Backup of app failed (job 9)"
    assert len(fake_slack.refused) == 2
    assert sum("refused a message's blocks" in r.getMessage() for r in caplog.records) == 2
    assert outbox_rows(store) == 0


class Clock:
    """Simulated time for the outbox's waits; Slack comes back when enough of it has passed."""

    def __init__(self, events: list[tuple[float, Any]]) -> None:
        self.now = 0.0
        self.events = sorted(events, key=lambda e: e[0])
        self.lock = threading.Lock()

    def pause(self, seconds: float) -> None:
        with self.lock:
            self.now += seconds
            while self.events and self.events[0][0] <= self.now:
                self.events.pop(0)[1]()
        time.sleep(0.002)


def test_slack_down_for_ten_minutes_every_message_delivered_once_afterwards(
    store: Store, fake_slack: FakeSlack
) -> None:
    gate = SlackGate(fake_slack.port)  # closed: connections refused
    delivered_at: list[float] = []
    clock = Clock(
        [
            (300.0, lambda: (fake_slack.down(503), gate.open())),  # reachable, but answering 503
            (600.0, lambda: (fake_slack.down(None), delivered_at.append(clock.now))),
        ]
    )
    box = Outbox(client(gate.api_url), store, rendered, default_channel="C1", pause=clock.pause)
    try:
        jobs = [new_job(store, reason=f"job {i}") for i in range(3)]
        for job in jobs:
            box.touch(job.id)
            box.thread(job.id, f"step line of job {job.id}")
        assert store.transition(
            jobs[0].id, JobStatus.QUEUED, JobStatus.SUCCEEDED, result={"summary": "stored"}
        )
        box.touch(jobs[0].id)
        box.post("C1", "alert: nightly backup of app failed", None)
        box.post("C1", "alert: nightly backup of app recovered", None)
        assert box.flush(120), f"not delivered; simulated clock at {clock.now:.0f} s"
    finally:
        box.close()
        gate.close()
    assert delivered_at and clock.now >= 600  # it really waited out ten (simulated) minutes
    top = fake_slack.messages("C1")
    texts = [m.text for m in top]
    for job in jobs:
        assert sum(f"(job {job.id})" in t for t in texts) == 1, texts  # one message per job, not two
        thread = fake_slack.thread(next(m.ts for m in top if f"(job {job.id})" in m.text))
        assert [m.text for m in thread] == [f"step line of job {job.id}"]  # exactly once
    assert "done" in next(t for t in texts if f"(job {jobs[0].id})" in t)
    assert texts.count("alert: nightly backup of app failed") == 1
    assert texts.count("alert: nightly backup of app recovered") == 1
    assert outbox_rows(store) == 0
    posts = [c for c in fake_slack.api_calls("chat.postMessage") if c.status == 200]
    assert len(posts) == len(top) + 3  # every accepted post is a message shown: nothing twice
    assert any(c.status == 503 for c in fake_slack.api_calls())
