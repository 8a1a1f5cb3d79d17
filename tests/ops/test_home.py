"""The App Home tab, published by a real bot process for the person who opened it (fake Slack
records views.publish), and an Approve clicked there approving the restore."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from jobs.freeze import freeze
from jobs.status import JobStatus
from tests.bot.conftest import SECRET, Bot
from tests.restore.conftest import Scene
from tests.restore.test_slack_restore import request_restore, start_bot, wait_status
from tests.support.fake_slack import FakeSlack
from tests.support.slack_signing import post_signed, signed_headers


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    f = FakeSlack(group_members={"S0LEADS": ["U0LEAD3"]})
    yield f
    f.stop()


@pytest.fixture
def bot(scene: Scene, fake: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Bot]:
    b = start_bot(scene, fake, monkeypatch)
    yield b
    b.stop()


def open_home(bot: Bot, fake: FakeSlack, user: str) -> dict[str, Any]:
    before = len(fake.api_calls("views.publish"))
    body = json.dumps(
        {
            "token": "legacy-unused",
            "team_id": "T1",
            "api_app_id": "A1",
            "type": "event_callback",
            "event_id": f"Ev{time.monotonic_ns()}",
            "event_time": int(time.time()),
            "event": {
                "type": "app_home_opened",
                "user": user,
                "channel": "D1",
                "tab": "home",
                "event_ts": "1.0",
            },
        }
    )
    resp = requests.post(
        bot.url, data=body, headers=signed_headers(SECRET, body, content_type="application/json"), timeout=10
    )
    assert resp.status_code == 200
    return published(fake, user, before)


def published(fake: FakeSlack, user: str, before: int) -> dict[str, Any]:
    call = fake.wait_for(
        lambda: next(
            (c for c in fake.api_calls("views.publish")[before:] if c.params.get("user_id") == user), None
        ),
        what=f"views.publish for {user}",
    )
    view = call.params["view"]
    return json.loads(view) if isinstance(view, str) else view


def texts(view: dict[str, Any]) -> str:
    out = []
    for b in view["blocks"]:
        if "text" in b:
            out.append(b["text"]["text"])
        for e in b.get("elements", []):
            if "text" in e and isinstance(e["text"], str):
                out.append(e["text"])
    return "\n".join(out)


def buttons(view: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]]


def click(bot: Bot, fake: FakeSlack, user: str, button: dict[str, Any]) -> dict[str, Any]:
    before = len(fake.api_calls("views.publish"))
    payload = {
        "type": "block_actions",
        "team": {"id": "T1", "domain": "acme"},
        "user": {"id": user, "username": user.lower(), "team_id": "T1"},
        "api_app_id": "A1",
        "token": "legacy-unused",
        "container": {"type": "view", "view_id": "V1"},
        "trigger_id": "1.2.3",
        "view": {"id": "V1", "type": "home"},
        "actions": [
            {
                "action_id": button["action_id"],
                "block_id": "b",
                "value": button["value"],
                "type": "button",
                "action_ts": "1.0",
            }
        ],
    }
    from urllib.parse import urlencode

    assert post_signed(bot.url, SECRET, urlencode({"payload": json.dumps(payload)})).status_code == 200
    return published(fake, user, before)


def test_home_tab_shows_the_figures_and_approves_from_there(bot: Bot, fake: FakeSlack, scene: Scene) -> None:
    job_id, _ = request_restore(bot, fake, scene, "home")
    lead = open_home(bot, fake, "U0LEAD1")
    text = texts(lead)
    assert lead["type"] == "home"
    # per database: newest good backup with its age, next scheduled run
    assert re.search(
        rf"\*app\*\n:white_check_mark: newest good backup `{scene.backup.id}` \(\d+(\.\d)? KB\), just now\nnext scheduled run \d{{4}}-\d\d-\d\d 03:00 UTC",
        text,
    ), text
    assert "*staging*\n:x: no good backup yet" in text
    assert (
        f'*Restore request {job_id}*: `{scene.backup.id}` into `staging`, asked by <@U0DEV> — "monthly drill"'
        in text
    )
    assert "Approvals: 0 of 1" in text
    assert "*Freezes*\nNone." in text
    assert [b["action_id"] for b in buttons(lead)] == ["home_restore_approve", "home_restore_deny"]
    # the requester and a stranger see the request without buttons
    assert buttons(open_home(bot, fake, "U0DEV")) == []
    assert buttons(open_home(bot, fake, "U0NOBODY")) == []

    after = click(bot, fake, "U0LEAD1", buttons(lead)[0])
    assert f"You approved restore request {job_id}" in texts(after)
    store = scene.store()
    wait_status(fake, store, job_id, JobStatus.SUCCEEDED)
    assert store.get_job(job_id).params["approved_by"] == ["U0LEAD1"]

    freeze(store, "staging", "U0LEAD2", "post-restore audit")
    later = texts(open_home(bot, fake, "U0LEAD2"))
    assert "Waiting for approval*\nNone." in later
    assert re.search(
        r":snowflake: `staging` frozen by <@U0LEAD2> since .+ UTC: \"post-restore audit\"", later
    ), later
    assert "*staging*\n" in later and ":snowflake: frozen by <@U0LEAD2>" in later
    store.close()
