"""`/backup history`: the audit trail people read back after an incident, newest first."""

from __future__ import annotations

import re

import pytest

from tests.bot.test_console import RestoreConsole

pytestmark = pytest.mark.usefixtures("state_backend")  # the store's suite runs on SQLite and PostgreSQL


def _entries(lines: list[str], title: str) -> list[str]:
    """The lines under ``title``, without their timestamps."""
    start = lines.index(title)
    out = []
    for line in lines[start + 1 :]:
        if not line.startswith("• "):
            break
        stamp = re.match(r"• \d{4}-\d\d-\d\d \d\d:\d\d UTC · ", line)
        assert stamp, line
        out.append(line[stamp.end() :])
    return out


def test_history_says_who_asked_who_decided_and_how_it_ended(restore_console: RestoreConsole) -> None:
    rc = restore_console
    bid = rc.backup_id
    rc.run(
        'restore latest app --target staging --reason "drill"\n/as U0LEAD2\ndeny 2\n'
        '/as U0DEV\nrestore latest app --target scratch --reason "copy for <support> & QA"\n'
        "/as U0LEAD1\napprove 3\n"
    )
    lines = rc.run(
        '/as U0LEAD1\nfreeze scratch --reason "audit"\n'
        "history scratch\nhistory --limit 4\nhistory staging\nhistory app -n 0\n"
    )
    scratch = _entries(lines, "History of `scratch` (newest first, 4 shown)")
    assert scratch[0] == '`scratch` · @U0LEAD1 froze scratch ("audit")'
    assert re.fullmatch(
        rf"job 3 · succeeded: Restored `{bid}` into `scratch`: restored and back in service", scratch[1]
    )
    assert scratch[2:] == [
        "job 3 · @U0LEAD1 approved",
        f'job 3 · @U0DEV asked to restore {bid} into scratch ("copy for <support> & QA")',
    ]
    assert _entries(lines, "History of `staging` (newest first, 2 shown)") == [
        "job 2 · @U0LEAD2 denied",
        f'job 2 · @U0DEV asked to restore {bid} into staging ("drill")',
    ]
    assert _entries(lines, "History of all databases (newest first, 4 shown)") == scratch
    assert "Older entries: `/backup history --limit 100`." in lines
    assert "[!] --limit must be a number from 1 to 100" in lines
    # the dump that made the backup is app's history
    app = rc.run("history app\n")
    assert (
        _entries(app, "History of `app` (newest first, 2 shown)")[1]
        == "job 1 · @U0DEV asked for a dump of app"
    )


def test_text_people_typed_cannot_ping_the_channel(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from commands.base import Invocation
    from commands.grammar import dispatch
    from core.config import parse_config
    from jobs.store import Store

    cfg = parse_config(
        {
            "storage": {"url": (tmp_path / "store").as_uri()},
            "databases": {"prod": {"dump_url_env": "X", "approvers": ["U0LEAD1"]}},
        },
        "test.toml",
    )
    store = Store(tmp_path / "bb.sqlite3")
    store.create_job("dump", "prod", {"reason": "<!channel> & <https://evil|click>"}, requested_by="U0DEV")
    inv = Invocation(user="U0LEAD1", channel="C1", cfg=cfg, store=store)
    frozen = dispatch('freeze prod --reason "<!here> incident"', inv).text
    assert "&lt;!here&gt; incident" in frozen and "<!here>" not in frozen
    text = dispatch("history prod", inv).text
    assert "&lt;!channel&gt; &amp; &lt;https://evil|click&gt;" in text and "<!channel>" not in text
    assert (
        "<@U0LEAD1> froze prod (&quot;" not in text
        and '<@U0LEAD1> froze prod ("&lt;!here&gt; incident")' in text
    )
    store.close()
