"""Very long outputs reach Slack as messages Slack accepts, cut by lines with "…and N more".

The job rows hold what a job kind or a preflight really produces at its worst (hundreds of
steps, a tool's output of hundreds of lines, a 5,000-character list of what a restore keeps);
the rendering and the outbox are the real ones, Slack is the fake Slack Web API, which
refuses what Slack refuses.
"""

from __future__ import annotations

import dataclasses
import json
import re
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

MORE = re.compile(r"…and (\d+) more lines?")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "bb.sqlite3")
    yield s
    s.close()


def send(store: Store, fake: FakeSlack, *jobs: Job) -> None:
    """Post each job's message through the real outbox, rendered as the job is now."""
    states = {j.id: j for j in jobs}

    def rendered(job: Job) -> tuple[str, list[dict[str, Any]]]:
        shown = states.get(job.id, job)
        return render.job_text(shown), render.job_blocks(shown)

    client = WebClient(token="xoxb-test", base_url=fake.api_url, timeout=5, retry_handlers=[])
    box = Outbox(client, store, rendered, default_channel="C1")
    try:
        for job in jobs:
            box.touch(job.id)
        assert box.flush(30)
    finally:
        box.close()


def texts(blocks: list[dict[str, Any]]) -> list[str]:
    out: list[str] = []
    for b in blocks:
        for t in [b.get("text"), *b.get("fields", []), *b.get("elements", [])]:
            if isinstance(t, dict) and isinstance(t.get("text"), str):
                out.append(t["text"])
    return out


def test_hundreds_of_lines_and_a_5000_character_value_reach_slack_cut_with_how_many_more(
    store: Store, fake_slack: FakeSlack
) -> None:
    steps = [f"step {i:03d}: {i / 10:.1f} s (previous {i / 11:.1f} s)" for i in range(400)]
    done = store.create_job("drill", "app", {}, requested_by="scheduler", channel="C1")
    done = dataclasses.replace(
        done,
        status=JobStatus.SUCCEEDED,
        result={
            "summary": "Monthly restore drill of `app` passed",
            "fields": [["Backup", "`app-20261205T030000Z-nightly-1abc`"], ["Steps", "\n".join(steps)]],
        },
    )
    output = [f"pg_restore: error: could not create table public.t{i}" for i in range(600)]
    failed = store.create_job("dump", "app", {}, requested_by="U1", channel="C1")
    failed = dataclasses.replace(
        failed,
        status=JobStatus.FAILED,
        error={
            "message": "the dump of app failed",
            "detail": "\n".join(output),
            "hint": "Run `/backup dump app` again once the server answers.",
        },
    )
    stays = ", ".join(f"public.kept_table_{i:04d}" for i in range(200))  # ~5,000 characters
    assert len(stays) > 4500
    card = {
        "Backup": "app-20261205T030000Z-nightly-1abc (nightly, database app)",
        "Target": "staging",
        "Will overwrite": "3 of the target's 203 tables (those the backup also has)",
        "Will stay": f"200 objects only in the target, untouched: {stays}",
        "Safety dump": "yes, before anything changes",
        "Expected duration": "about 2 min",
    }
    request = store.create_job(
        "restore",
        "staging",
        {
            "backup_id": "app-20261205T030000Z-nightly-1abc",
            "summary": card,
            "reason": "drill",
            "binding": "b",
        },
        requested_by="U0DEV",
        channel="C1",
    )
    request = dataclasses.replace(request, status=JobStatus.AWAITING_APPROVAL)

    send(store, fake_slack, done, failed, request)

    assert fake_slack.refused == []
    posted = {m.text.splitlines()[0]: m for m in fake_slack.messages("C1")}
    assert len(posted) == 3

    # 400 steps in a 2,000-character field: the first ones, in order, then how many more
    drill = next(m for head, m in posted.items() if "job 1" in head)
    field = next(t for t in texts(drill.blocks) if t.startswith("*Steps*"))
    shown = field.splitlines()[1:-1]
    more = MORE.fullmatch(field.splitlines()[-1])
    assert more and shown == steps[: len(shown)] and len(shown) + int(more.group(1)) == len(steps)
    assert len(shown) > 20

    # 600 lines of a tool's output: the headline and the next step are kept, the output is cut
    dump = next(m for head, m in posted.items() if "job 2" in head)
    error = next(t for t in texts(dump.blocks) if "the dump of app failed" in t)
    lines = error.splitlines()
    assert lines[0] == "*the dump of app failed*"
    assert lines[-1] == "_Next:_ Run `/backup dump app` again once the server answers."
    more = MORE.fullmatch(lines[-2])
    assert more and lines[1:-2] == output[: len(lines) - 3]
    assert len(lines) - 3 + int(more.group(1)) == len(output)
    assert [b["type"] for b in dump.blocks][-1] == "actions"  # the Retry button is still there

    # the restore card: every line stays (the 5,000-character one is cut), and the buttons
    restore = next(m for head, m in posted.items() if "job 3" in head)
    card_text = next(t for t in texts(restore.blocks) if t.startswith("*Backup:*"))
    keys = [line.split(":*")[0] + ":*" for line in card_text.splitlines()]
    assert keys == [
        "*Backup:*",
        "*Target:*",
        "*Will overwrite:*",
        "*Safety dump:*",
        "*Will stay:*",
        "*Expected duration:*",
        "*Reason:*",
    ]
    kept = next(line for line in card_text.splitlines() if line.startswith("*Will stay:*"))
    assert kept.endswith("…") and "public.kept_table_0000, public.kept_table_0001" in kept
    buttons = [e for b in restore.blocks if b["type"] == "actions" for e in b["elements"]]
    assert [e["action_id"] for e in buttons] == ["restore_approve", "restore_deny"]
    assert json.loads(buttons[0]["value"]) == {"job": request.id, "binding": "b"}
