"""Socket Mode is chosen when SLACK_APP_TOKEN is set; a token of the wrong kind fails before anything starts."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from tests.bot.conftest import ROOT
from tests.support.fake_slack import FakeSlack


def run_bot(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_bot_token_in_slack_app_token_is_refused_clearly(bot_env: dict[str, Any]) -> None:
    env = {**bot_env["env"], "SLACK_APP_TOKEN": "xoxb-9999-8888-pasted-the-wrong-one"}
    env.pop("SLACK_SIGNING_SECRET")
    proc = run_bot(env)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert "ERROR: SLACK_APP_TOKEN is not an app-level token" in err
    assert "xapp-" in err and "App-Level Tokens" in err
    assert "pasted-the-wrong-one" not in err  # the token itself is never echoed
    assert "Traceback" not in err


def test_socket_mode_opens_a_connection_with_the_app_token(
    bot_env: dict[str, Any], fake_slack: FakeSlack
) -> None:
    env = {**bot_env["env"], "SLACK_APP_TOKEN": "xapp-1-A1-123-fake"}
    env.pop("SLACK_SIGNING_SECRET")  # Socket Mode needs no signing secret and no public URL
    proc = run_bot(env)
    try:
        call = fake_slack.wait_for(
            lambda: fake_slack.api_calls("apps.connections.open"), what="apps.connections.open"
        )[0]
        assert call.headers.get("Authorization") == "Bearer xapp-1-A1-123-fake"
    finally:
        proc.kill()
        proc.communicate(timeout=10)
