"""People shown as people: mentions in Slack, names in the console, the CLI and the runbook."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest

from jobs.people import remember
from jobs.store import DB_FILE, Store
from tests.bot.conftest import ROOT, SECRET, Bot
from tests.bot.test_console import RestoreConsole
from tests.support.fake_slack import FakeSlack
from tests.support.slack_signing import command_body, post_signed

pytestmark = pytest.mark.usefixtures("state_backend")  # the store's suite runs on SQLite and PostgreSQL


def test_names_learned_from_slack_show_in_the_cli_and_console(
    bot_env: dict[str, Any], fake_slack: FakeSlack
) -> None:
    bot = Bot(bot_env["dir"], bot_env["env"]).start()
    try:
        body = dict(parse_qsl(command_body("dump app", user="U1")))
        body["user_name"] = "ana.ops"
        assert post_signed(bot.url, SECRET, urlencode(body)).status_code == 200
        done = fake_slack.wait_for(
            lambda: next((m for m in fake_slack.messages("C1") if "done" in m.text), None), what="the dump"
        )
    finally:
        bot.stop()
    assert "<@U1>" in str(done.blocks) and "ana.ops" not in str(done.blocks)  # Slack renders the mention

    env = bot_env["env"]
    listed = subprocess.run(
        [sys.executable, "-m", "cli", "list"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert listed.returncode == 0, listed.stderr
    assert re.search(r"app-\d{8}T\d{6}Z-manual-[0-9a-z]{4} .* ana\.ops \(U1\)", listed.stdout), listed.stdout
    console = subprocess.run(
        [sys.executable, "-m", "bot", "--console", "--as", "U1"],
        cwd=ROOT,
        env=env,
        input="history app\nstatus 1\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "job 1 · @ana.ops asked for a dump of app" in console.stdout, console.stdout
    assert "by @ana.ops" in console.stdout and "U1" not in console.stdout.split("you are U1.")[1]


def test_runbook_entries_and_requests_name_people(restore_console: RestoreConsole) -> None:
    rc = restore_console
    store = Store(rc.tmp / "state" / DB_FILE)
    remember(store, "U0DEV", "dev.ana")  # as the bot does from the requests Slack sends it
    remember(store, "U0LEAD1", "lead.bo")
    store.close()
    lines = rc.run('restore latest app --target scratch --reason "copy"\n/as U0LEAD1\napprove 2\n')
    text = "\n".join(lines)
    assert "asked by @dev.ana." in text and "taken by @dev.ana)" in text
    assert "@lead.bo can approve it" in text and "[job 2] approved by @lead.bo" in text
    assert "[job 2] - Asked by: dev.ana (U0DEV), reason: copy" in lines
    assert "[job 2] - Approved by: lead.bo (U0LEAD1)" in lines
    assert re.search(
        r"\[job 2\] - Backup: app-\S+ \(database app, kind manual, taken .* by dev\.ana \(U0DEV\),", text
    ), text
