"""A line written to the outbox inside a transaction that commits later is still delivered.

The sender thread has its own SQLite connection: it may look for the row before the
writer's transaction commits. It must neither drop the row nor delete it unsent.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from slack_sdk import WebClient

from bot.outbox import Outbox
from jobs.store import Store
from tests.support.fake_slack import FakeSlack

pytestmark = pytest.mark.usefixtures("state_backend")  # the store's suite runs on SQLite and PostgreSQL


def test_row_committed_after_the_sender_looked_is_still_sent(tmp_path: Path, fake_slack: FakeSlack) -> None:
    store = Store(tmp_path / "state.sqlite3")
    client = WebClient(token="xoxb-test", base_url=fake_slack.api_url)
    outbox = Outbox(client, store, render=lambda job: ("", []), sweep_every=0.5)
    try:
        with store.transaction():
            outbox.post("C9", "alert written inside an open transaction")
            time.sleep(0.5)  # the sender wakes now and cannot see the uncommitted row
        msg = fake_slack.wait_for(lambda: fake_slack.messages("C9"), timeout=10, what="the alert")
        assert msg[0].text == "alert written inside an open transaction"
        fake_slack.wait_for(
            lambda: next(iter(store.db.query("SELECT count(*) AS n FROM slack_outbox")))["n"] == 0,
            what="an empty outbox",
        )
        assert len(fake_slack.messages("C9")) == 1
    finally:
        outbox.close()
