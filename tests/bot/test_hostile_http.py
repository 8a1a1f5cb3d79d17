"""Hostile requests against the running web app: `python -m bot` over HTTP, as Slack and as an attacker.

The bot runs as a real process (runner off, local storage: nothing here needs a dump to
run) behind the fake Slack. What is asserted is what the sender and the channel get:
the status code and the reply, what the fake Slack was asked to post, the bot's log,
the jobs in the store, and the CPU the bot spent on each request (from /proc, so the
bound holds on a loaded machine: it is CPU time, not wall-clock time).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.home import APPROVE_ACTION as HOME_APPROVE
from bot.home import DENY_ACTION as HOME_DENY
from bot.render import CANCEL_ACTION, RETRY_ACTION
from bot.restore_render import APPROVE_ACTION, DENY_ACTION
from tests.bot.conftest import BOT_TOKEN, SECRET, Bot
from tests.support.fake_slack import FakeSlack
from tests.support.slack_signing import action_body, command_body, signed_headers

CPU_BOUND = 0.100  # seconds of CPU per request, the bound
MARKUP = re.compile(r"<(?:!|@|#|https?:|mailto:)[^>]*>")
OWN_MARKUP = {"<@U1>", "<@U2>", "<@U7>", "<@U9>", "<!subteam^S1>", "<#C1>"}
HOSTILE = [
    "<!channel>",
    "<!here|here>",
    "<!everyone>",
    "<@U0BOSS>",
    "<#C0SECRET>",
    "<!subteam^S0ALL>",
    "<https://evil.example|the runbook>",
    "<mailto:x@evil.example|mail>",
    "&lt;!channel&gt;",
    "\u202eexe.txt",
    "a\u200bb",
    "'unclosed",
    '"',
    "--reason",
    "a://" * 50,
    "x" * 500,
]
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime of every thread


def settled_cpu(pid: int) -> float:
    """The process's CPU time once it has stopped using any (the request and what it set off)."""
    last = cpu_seconds(pid)
    quiet = 0
    deadline = time.monotonic() + 5
    while quiet < 2 and time.monotonic() < deadline:
        time.sleep(0.03)
        now = cpu_seconds(pid)
        quiet = quiet + 1 if now == last else 0
        last = now
    return last


@pytest.fixture(scope="module")
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack(group_members={"S1": ["U7"]})
    yield fake
    fake.stop()


def light_env(tmp: Path, fake: FakeSlack) -> dict[str, str]:
    config = tmp / "backupbot.toml"
    config.write_text(
        textwrap.dedent(
            f"""
            [storage]
            url = "file://{tmp}/bucket"

            [slack]
            channel = "C1"
            allowed_users = ["U1", "U2"]
            allowed_group = "S1"

            [databases.app]
            dump_url_env = "APP_DUMP_URL"
            """
        )
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST_", "SLACK_", "BACKUPBOT_")) and k != "COV_CORE_SOURCE"
    }
    env.update(
        {
            "BACKUPBOT_CONFIG": str(config),
            "BACKUPBOT_STATE_DIR": str(tmp / "state"),
            "BACKUPBOT_RUNNER": "off",
            "BACKUPBOT_KEY": "x" * 44,
            "APP_DUMP_URL": "postgresql://app:not-used@127.0.0.1:1/app",
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": fake.api_url,
            "LOG_LEVEL": "INFO",
        }
    )
    return env


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory, slack: FakeSlack) -> Iterator[Bot]:
    tmp = tmp_path_factory.mktemp("hostile")
    bot = Bot(tmp, light_env(tmp, slack)).start()
    # First use of each command imports what it needs; that is start-up, not a request.
    for text in (
        "help",
        "status",
        "list",
        "prune app",
        "restore latest --target app",
        "dump app",
        "cancel 1",
    ):
        bot.command(text, response_url=slack.response_url("warmup"))
    for action, value in ((RETRY_ACTION, "1"), (APPROVE_ACTION, '{"job": 1}')):
        post(bot, action_body(action, value, response_url=slack.response_url("warmup")))
    settled_cpu(bot.proc.pid)
    yield bot
    bot.stop()


def post(bot: Bot, body: str | bytes, secret: str = SECRET, **headers: str) -> requests.Response:
    """``body`` signed exactly as Slack signs it (its bytes, when it is not text)."""
    raw = body.encode() if isinstance(body, str) else body
    ts = str(int(time.time()))
    digest = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + raw, hashlib.sha256).hexdigest()
    signed = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={digest}",
    }
    return requests.post(bot.url, data=raw, headers={**signed, **headers}, timeout=10)


def strings(value: Any) -> Iterator[str]:
    """Every string in a reply or an API call (blocks sent as a JSON string included)."""
    if isinstance(value, str):
        if value.startswith(("[", "{")):
            try:
                yield from strings(json.loads(value))
                return
            except ValueError:
                pass
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


def said(fake: FakeSlack) -> list[Any]:
    """Everything the bot said: posted messages (text and blocks) and response_url answers."""
    out: list[Any] = [c.params for c in fake.api_calls() if c.method.startswith(("chat.", "views."))]
    with fake._lock:
        out += [r for rs in fake.responses.values() for r in rs]
    return out


def check_said(value: Any) -> None:
    for text in strings(value):
        foreign = set(MARKUP.findall(text)) - OWN_MARKUP
        assert not foreign, f"markup the bot did not make: {foreign} in {text[:300]!r}"
        assert "Traceback" not in text and "went wrong" not in text, text[:300]


def judge(bot: Bot, fake: FakeSlack, send: Any) -> requests.Response:
    before_calls = len(fake.api_calls())
    before = settled_cpu(bot.proc.pid)
    resp = send()
    spent = settled_cpu(bot.proc.pid) - before
    assert resp.status_code in (200, 401, 413), (resp.status_code, resp.text[:300])
    assert spent <= CPU_BOUND, f"{spent * 1000:.0f} ms of CPU for one request"
    if resp.status_code == 200 and resp.content:
        check_said(resp.json().get("text", ""))  # what Slack shows the sender
    for call in fake.api_calls()[before_calls:]:
        if call.method.startswith(("chat.", "views.")):
            check_said(call.params)
    return resp


HOSTILE_TEXT = st.one_of(
    st.text(max_size=200),
    st.lists(st.sampled_from(HOSTILE), min_size=1, max_size=6).map(" ".join),
    st.builds(
        lambda c, n: c * n,
        st.sampled_from(["a", "a://", "x:", "<", "&", "'", "\u202e"]),
        st.integers(1000, 4500),
    ),
)
COMMANDS = st.sampled_from(
    [
        "",
        "dump",
        "dump app",
        "dump app --reason",
        "status",
        "cancel",
        "list",
        "prune app",
        "restore",
        "approve",
        "help",
        "zzz",
    ]
)
USERS = st.sampled_from(["U1", "U2", "U7", "U9", "", "U1> <!channel", "W0", "u1", "U" + "1" * 40])
CHANNELS = st.sampled_from(["C1", "C2", "", "<#C1>", "D0DM"])
FAST = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)


@FAST
@given(command=COMMANDS, text=HOSTILE_TEXT, user=USERS, channel=CHANNELS)
def test_hostile_command_text(
    web: Bot, slack: FakeSlack, command: str, text: str, user: str, channel: str
) -> None:
    body = command_body(f"{command} {text}".strip(), user, channel, slack.response_url("cmd"))
    resp = judge(web, slack, lambda: post(web, body))
    assert resp.status_code == 200 and resp.json().get("text")


@FAST
@given(
    action=st.sampled_from(
        [CANCEL_ACTION, RETRY_ACTION, APPROVE_ACTION, DENY_ACTION, HOME_APPROVE, HOME_DENY, "no_such_action"]
    ),
    value=st.one_of(
        st.text(max_size=60),
        st.integers(min_value=-(2**70), max_value=2**80).map(str),
        st.builds(
            lambda n: json.dumps({"job": n, "binding": "x"}),
            st.one_of(st.integers(-(2**70), 2**80), st.text(max_size=10)),
        ),
        st.sampled_from(HOSTILE),
    ),
    user=USERS,
)
def test_hostile_button_clicks(web: Bot, slack: FakeSlack, action: str, value: str, user: str) -> None:
    body = action_body(action, value, user=user, channel="C1", response_url=slack.response_url("click"))
    resp = judge(web, slack, lambda: post(web, body))
    assert resp.status_code == 200


@FAST
@given(
    raw=st.one_of(
        st.binary(max_size=400),
        st.text(max_size=400).map(lambda t: "payload=" + t),
        st.text(max_size=400).map(lambda t: "{" + t),
        st.just('payload={"type":"block_actions"}'),
        st.just('payload={"type":"block_actions","actions":[{}]}'),
        st.just(
            "payload="
            + json.dumps({"type": "block_actions", "actions": [{"action_id": RETRY_ACTION}], "user": 5})
        ),
        st.just("command=/backup&text=dump%20app"),
        st.sampled_from(
            [
                '{"type":"url_verification"}',
                '{"type":"url_verification","challenge":"<!channel>"}',
                '{"type":"event_callback","event":5}',
                '{"type":"view_submission"}',
                '{"type":"block_actions","actions":[{"action_id":5}]}',
                '{"type":"block_actions","actions":[{"action_id":"job_retry","block_id":7}]}',
                "[1, 2]",
                "payload=[1]",
                "payload=null",
                'payload={"type":"shortcut","callback_id":5}',
                '{"type":"event_callback","event":{"type":"app_home_opened"}}',
                '{"type":"event_callback","event":{"type":"app_home_opened","user":"U1> <!channel","tab":"home"}}',
                '{"type":"event_callback","event":{"type":"app_home_opened","user":"U1","tab":"home"}}',
            ]
        ),
    ),
    ctype=st.sampled_from(["application/x-www-form-urlencoded", "application/json", "text/plain", ""]),
)
def test_hostile_signed_bodies(web: Bot, slack: FakeSlack, raw: bytes | str, ctype: str) -> None:
    resp = judge(web, slack, lambda: post(web, raw, **{"Content-Type": ctype}))
    readable = isinstance(raw, str) or raw.decode("utf-8", "replace").encode() == raw
    assert resp.status_code == (200 if readable else 401)  # Slack only ever sends UTF-8


# Header values HTTP allows (waitress itself answers 400 to control characters, below the app).
HEADER_VALUE = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_categories=["Cc"]), max_size=40
).map(str.strip)


@FAST
@given(
    timestamp=st.one_of(
        HEADER_VALUE, st.sampled_from(["", "abc", "1e9", "12.5", "99999999999999999999999", "-1", "0x10"])
    ),
    signature=st.one_of(HEADER_VALUE, st.just("v0=" + "0" * 64)),
)
def test_forged_and_malformed_requests_get_401(
    web: Bot, slack: FakeSlack, timestamp: str, signature: str
) -> None:
    body = command_body("dump app --reason forged")
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature,
    }
    resp = judge(web, slack, lambda: requests.post(web.url, data=body, headers=headers, timeout=10))
    assert resp.status_code == 401


def test_the_hostile_run_left_no_traceback_and_no_forged_job(web: Bot, slack: FakeSlack) -> None:
    """Runs after the suites above (same module bot): nothing they sent broke anything."""
    log = web.log.read_text()
    assert "Traceback" not in log and "forged" not in log
    store = web.store()
    try:
        assert all("forged" not in json.dumps(j.params) for j in store.list_jobs(limit=1000))
    finally:
        store.close()
    for what in said(slack):
        check_said(what)
    assert requests.get(web.url.replace("/slack/events", "/healthz"), timeout=5).ok


# ------------------------------------------------------------- one case each


@pytest.fixture
def fresh(tmp_path: Path, fake_slack: FakeSlack) -> Iterator[Bot]:
    bot = Bot(tmp_path, light_env(tmp_path, fake_slack)).start()
    yield bot
    bot.stop()


def test_a_body_larger_than_slack_sends_is_413_and_never_logged(fresh: Bot) -> None:
    marker = "BODYMARKER" * 60_000  # 600 KB
    resp = post(fresh, command_body(f"dump app --reason {marker}"))
    assert resp.status_code == 413
    unsigned = requests.post(fresh.url, data=marker.encode(), timeout=10)
    assert unsigned.status_code == 413
    assert "BODYMARKER" not in fresh.log.read_text()
    assert fresh.command("help").status_code == 200


def test_a_refused_or_unhandled_request_never_logs_its_body(fresh: Bot) -> None:
    forged = command_body("dump app --reason LOGMARKER-forged")
    assert post(fresh, forged, secret="not-the-secret").status_code == 401
    unhandled = action_body("no_such_button", "LOGMARKER-unhandled")
    assert post(fresh, unhandled).status_code == 200
    lines = len(fresh.log.read_text().splitlines())
    with requests.Session() as session:  # a flood of forged requests costs the log a line a minute
        for _ in range(200):
            assert session.post(fresh.url, data=forged, timeout=10).status_code == 401
    time.sleep(0.3)
    log = fresh.log.read_text()
    assert "LOGMARKER" not in log and "refused requests: 1 × 401 bad signature" in log
    assert len(log.splitlines()) - lines <= 2


def test_a_malformed_timestamp_is_401_not_500(fresh: Bot) -> None:
    body = command_body("dump app")
    for ts in ("abc", "", "12.5", "1e9", "99999999999999999999999999"):
        headers = signed_headers(SECRET, body)
        headers["X-Slack-Request-Timestamp"] = ts
        assert requests.post(fresh.url, data=body, headers=headers, timeout=10).status_code == 401, ts
    assert "Traceback" not in fresh.log.read_text()


def test_a_replayed_request_runs_the_command_once_across_web_processes(
    tmp_path: Path, fake_slack: FakeSlack, fresh: Bot
) -> None:
    body = command_body('dump app --reason "replay me"', response_url=fake_slack.response_url("r"))
    first = post(fresh, body)
    assert first.status_code == 200 and "Queued" in first.json()["text"]
    headers = signed_headers(SECRET, body)
    headers["X-Slack-Request-Timestamp"] = first.request.headers["X-Slack-Request-Timestamp"]
    headers["X-Slack-Signature"] = first.request.headers["X-Slack-Signature"]
    again = requests.post(fresh.url, data=body, headers=headers, timeout=10)
    assert again.status_code == 200 and "Queued" not in again.text
    second = Bot(tmp_path, fresh.env).start()  # another web process on the same state file
    try:
        other = requests.post(second.url, data=body, headers=headers, timeout=10)
        assert other.status_code == 200 and "Queued" not in other.text
    finally:
        second.stop()
    store = fresh.store()
    try:
        assert [j.params.get("reason") for j in store.list_jobs()] == ["replay me"]
    finally:
        store.close()
    # the same command typed again is a new request (its own trigger and signature): it runs
    assert "Queued" in fresh.command('dump app --reason "replay me"').json()["text"]


@pytest.mark.parametrize("number", ["999", str(2**63), "9" * 25])
def test_buttons_and_commands_naming_no_job_get_a_private_no_job_n(
    fresh: Bot, fake_slack: FakeSlack, number: str
) -> None:
    clicks = {
        "retry": (RETRY_ACTION, number),
        "cancel": (CANCEL_ACTION, number),
        "approve": (APPROVE_ACTION, json.dumps({"job": int(number), "binding": "b"})),
        "deny": (DENY_ACTION, json.dumps({"job": int(number), "binding": "b"})),
    }
    for name, (action, value) in clicks.items():
        key = f"{name}-{number}"
        assert (
            post(fresh, action_body(action, value, response_url=fake_slack.response_url(key))).status_code
            == 200
        )
        reply = fake_slack.wait_for(lambda k=key: fake_slack.responses.get(k), what=f"the {name} reply")[0]
        assert reply["response_type"] == "ephemeral" and f"no job {number}" in reply["text"], reply
        assert "state" not in reply["text"] and "sqlite" not in reply["text"]
    for command in ("status", "cancel", "approve", "deny"):
        text = fresh.command(f"{command} {number}").json()["text"]
        assert f"no job {number}" in text and "went wrong" not in text
    log = fresh.log.read_text()
    assert "Traceback" not in log and "OverflowError" not in log
