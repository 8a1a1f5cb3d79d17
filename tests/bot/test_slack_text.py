"""Untrusted text on its way into Slack: escaped, cut to Slack's limits, redacted in linear time.

The messages are built by the same functions the Slack reporter and the listeners use,
and checked with the fake Slack's own ``message_problems`` (what real Slack refuses).
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.render import alert_payload, job_blocks, job_text, step_text
from commands.base import Invocation
from commands.grammar import dispatch
from core.config import parse_config
from core.redact import redact
from core.slack_text import COMMAND_TEXT, clean, cut, escape, fit_blocks, mention, unescape
from jobs.events import Alert, StepResult
from jobs.status import JobStatus
from jobs.store import Job, Store
from tests.support.fake_slack import message_problems

HOSTILE = "<!channel> <!here> <@U0BOSS> <https://evil.example|the runbook> a&b \u202etxt.exe\u200b"
# Markup that Slack would act on: a special mention, a user, a channel, a group, a link.
MARKUP = re.compile(r"<(?:!|@|#|https?:|mailto:)[^>]*>")


def markup(text: str) -> list[str]:
    return MARKUP.findall(text)


def all_text(blocks: list[dict[str, Any]]) -> str:
    out: list[str] = []

    def walk(v: Any) -> None:
        if isinstance(v, dict):
            for k, x in v.items():
                if k == "text" and isinstance(x, str):
                    out.append(x)
                else:
                    walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    walk(blocks)
    return "\n".join(out)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "bb.sqlite3")
    yield s
    s.close()


def make_job(store: Store, status: JobStatus, **kw: Any) -> Job:
    job = store.create_job("dump", "app", kw.pop("params", {}), requested_by=kw.pop("by", "U1"), channel="C1")
    return dataclasses.replace(job, status=status, **kw)


# ------------------------------------------------------------------ escaping


def test_escape_shows_text_as_typed_and_drops_invisible_characters() -> None:
    assert escape("a & b < c > d") == "a &amp; b &lt; c &gt; d"
    assert escape("x\u202ey\u2066z\u200bw\ufeff\x00") == "xyzw"
    assert escape("line\nnext\ttab") == "line\nnext\ttab"
    assert mention("U1ABC") == "<@U1ABC>"
    assert mention("U1> <!channel") == "U1&gt; &lt;!channel"


def test_a_hostile_reason_and_step_output_are_shown_not_obeyed(store: Store) -> None:
    job = make_job(
        store,
        JobStatus.FAILED,
        params={"reason": HOSTILE},
        error={"message": f"hook said {HOSTILE}", "detail": HOSTILE, "hint": "look"},
    )
    text, blocks = job_text(job), job_blocks(job)
    shown = all_text(blocks)
    assert markup(shown) == ["<@U1>"]  # the requester, put there by the bot
    assert markup(text) == []
    assert "&lt;!channel&gt;" in shown and "\u202e" not in shown and "\u200b" not in shown
    line = step_text(StepResult(name="migrate hook", status="failed", detail=HOSTILE))
    assert markup(line) == [] and "&lt;https://evil.example|the runbook&gt;" in line
    alert_text, alert_blocks = alert_payload(
        Alert(
            title=f"nightly of {HOSTILE} failed",
            severity="failure",
            mention="S0ONCALL",
            error={"message": HOSTILE},
        )
    )
    assert markup(all_text(alert_blocks)) == ["<!subteam^S0ONCALL>"]
    assert markup(alert_text) == ["<!subteam^S0ONCALL>"]


def test_people_the_job_itself_names_stay_mentions(store: Store) -> None:
    job = make_job(
        store,
        JobStatus.CANCELLED,
        by="U0DEV",
        params={"decisions": [{"user": "U0LEAD", "decision": "deny"}]},
        error={"message": "restore request 1 was denied by <@U0LEAD>", "detail": "and <@U0STRANGER> typed"},
    )
    shown = all_text(job_blocks(job))
    assert "<@U0LEAD>" in shown and "<@U0STRANGER>" not in shown and "&lt;@U0STRANGER&gt;" in shown


def test_command_replies_echo_typed_words_escaped(store: Store) -> None:
    inv = Invocation(
        user="U1",
        channel="C1",
        cfg=parse_config(
            {"storage": {"url": "file:///tmp/unused"}, "databases": {"app": {"dump_url_env": "X"}}}, "t"
        ),
        store=store,
    )
    for text in (
        "<!channel>",
        "dump <!here>",
        "dump app --reason <!channel> --bogus <@U9>",
        "status <!channel>",
    ):
        reply = dispatch(text, inv).text
        assert markup(reply) == [], (text, reply)
    job_id = dispatch(f"dump app --reason '{HOSTILE}'", inv).job_id
    assert store.get_job(job_id).params["reason"] == HOSTILE  # stored as typed
    assert markup(dispatch(f"status {job_id}", inv).text) == ["<@U1>"]


# --------------------------------------------------------------- Slack limits


def test_a_reason_past_slacks_limits_still_makes_a_message_slack_accepts(store: Store) -> None:
    long = "why " * 5000  # 20,000 characters
    fields = [[f"field {i}", "x" * 2500] for i in range(14)]
    job = make_job(
        store,
        JobStatus.SUCCEEDED,
        params={"reason": long},
        result={"summary": "s" * 4000, "fields": fields},
    )
    params = {"text": job_text(job), "blocks": job_blocks(job)}
    assert message_problems(params) == []
    assert "…" in all_text(params["blocks"])
    failed = make_job(
        store, JobStatus.FAILED, params={"reason": long}, error={"message": "m" * 5000, "detail": long}
    )
    assert message_problems({"text": job_text(failed), "blocks": job_blocks(failed)}) == []


def test_fit_blocks_keeps_the_buttons_and_at_most_fifty_blocks() -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": f"line {i}"}} for i in range(80)]
    blocks.append(
        {
            "type": "actions",
            "elements": [
                {"type": "button", "action_id": "a", "text": {"type": "plain_text", "text": "B" * 200}}
            ],
        }
    )
    assert message_problems({"blocks": blocks}) != []  # the fake refuses what Slack refuses
    fitted = fit_blocks(blocks)
    assert message_problems({"blocks": fitted}) == []
    assert (
        len(fitted) == 50 and fitted[-1]["type"] == "actions" and "more not shown" in all_text(fitted[-2:-1])
    )


def test_cut_never_leaves_half_an_escape_or_mention() -> None:
    assert cut("abc", 3) == "abc"
    assert cut("x" * 10 + "&amp;yyy", 13) == "x" * 10 + "…"
    assert cut("x" * 10 + "<@U12345>", 15) == "x" * 10 + "…"
    assert len(cut("y" * 5000, 3000)) == 3000


# ------------------------------------------------------- redaction, job numbers


def test_redaction_is_linear_on_hostile_input() -> None:
    """The old URL-password pattern took seconds of CPU on 64 KB of 'a://' (quadratic)."""
    for hostile in ("a" * 65536, "a://" * 16384, "x:" * 32768, "postgresql://u:" * 4096, "password='" * 6554):
        started = time.thread_time()
        redact(hostile)
        assert time.thread_time() - started < 0.25, hostile[:20]


def test_redaction_hides_passwords_with_at_colon_slash_percent() -> None:
    assert redact("postgresql://app:p@ss:w/rd%x@db.internal:5432/app failed") == (
        "postgresql://app:***@db.internal:5432/app failed"
    )
    assert (
        redact("see postgres://u:pw@h/d and https://example.com/a")
        == "see postgres://u:***@h/d and https://example.com/a"
    )


def test_command_text_longer_than_slack_sends_is_refused_before_parsing(store: Store) -> None:
    inv = Invocation(
        user="U9",
        channel="C1",
        cfg=parse_config(
            {
                "storage": {"url": "file:///tmp/unused"},
                "slack": {"allowed_users": ["U1"]},
                "databases": {"app": {"dump_url_env": "X"}},
            },
            "t",
        ),
        store=store,
    )
    reply = dispatch("dump app --reason " + "a://" * COMMAND_TEXT, inv).text
    assert "too long" in reply and len(reply) < 300
    # a stranger is refused before the words are even read: an unclosed quote is not reported
    assert "not allowed" in dispatch('dump "unclosed', inv).text
    assert "not allowed" in dispatch("dupm app", inv).text
    assert store.list_jobs() == []


@pytest.mark.parametrize("number", ["999", str(2**63), "9" * 30, "#123456789012345678901234567890"])
def test_unknown_and_too_large_job_numbers_get_no_job_n(store: Store, number: str) -> None:
    inv = Invocation(
        user="U1",
        channel="C1",
        cfg=parse_config(
            {"storage": {"url": "file:///tmp/unused"}, "databases": {"app": {"dump_url_env": "X"}}}, "t"
        ),
        store=store,
    )
    for command in ("status", "cancel", "approve", "deny"):
        reply = dispatch(f"{command} {number}", inv).text
        assert f"no job {number.lstrip('#')}" in reply, reply
        assert "went wrong" not in reply and str(store.path) not in reply and "sqlite" not in reply.lower()


def test_slack_replies_name_slack_commands(store: Store) -> None:
    from commands.grammar import error_text
    from core.errors import NotFoundError

    err = NotFoundError(
        "no backup x", hint="Run `backupbot list` to see the ids, or `backupbot dump --database app`."
    )
    assert error_text(err).endswith("Run `/backup list` to see the ids, or `/backup dump app`.")
    job = make_job(
        store, JobStatus.FAILED, error={"message": "m", "hint": "Pick another backup with `backupbot list`."}
    )
    assert "`/backup list`" in all_text(job_blocks(job)) and "backupbot list" not in job_text(job)


# ------------------------------------------------------------------ properties

TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=400) | st.sampled_from(
    ["<!channel>", "&amp;", "<@U1|x>", "\u202e\u2066", "```", "&lt;"]
)


@settings(max_examples=300, deadline=None)
@given(text=TEXT)
def test_escaped_text_has_no_markup_and_reads_as_typed(text: str) -> None:
    shown = escape(text)
    assert "<" not in shown and ">" not in shown
    assert unescape(shown) == clean(text)


@settings(max_examples=150, deadline=None)
@given(
    texts=st.lists(st.text(max_size=5000) | st.just(""), min_size=1, max_size=70),
    fields=st.integers(0, 15),
    limit=st.integers(1, 5000),
)
def test_fitted_blocks_are_always_accepted(texts: list[str], fields: int, limit: int) -> None:
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": escape(t) or " "}} for t in texts
    ]
    blocks.append({"type": "section", "fields": [{"type": "mrkdwn", "text": "f" * limit}] * max(1, fields)})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": "c" * limit}] * 12})
    assert message_problems({"blocks": fit_blocks(blocks)}) == []
    assert len(cut(texts[0], limit)) <= limit


def test_a_restore_request_shows_table_names_as_text_and_who_took_the_backup_as_a_mention(
    store: Store,
) -> None:
    job = store.create_job(
        "restore",
        "staging",
        {
            "backup_id": "app-20260101T000000Z-manual",
            "reason": "drill <!here>",
            "summary": {
                "Backup": "app-20260101T000000Z-manual (manual, database app, taken by <@U0DEV>)",
                "Will overwrite": "2 tables (largest: public.<!channel> 8 KB, public.<https://evil|x> 8 KB)",
            },
            "decisions": [{"user": "U0LEAD", "decision": "approve", "at": "2026-01-01T00:00:00Z"}],
        },
        requested_by="U0ASK",
        channel="C1",
    )
    shown = all_text(job_blocks(dataclasses.replace(job, status=JobStatus.AWAITING_APPROVAL)))
    assert sorted(set(markup(shown))) == ["<@U0ASK>", "<@U0DEV>", "<@U0LEAD>"]
    assert "public.&lt;!channel&gt;" in shown and "drill &lt;!here&gt;" in shown
