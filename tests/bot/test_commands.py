"""The `/backup` grammar and permissions, through ``dispatch`` as every surface calls it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from commands.base import Invocation
from commands.grammar import dispatch, tokenize
from commands.permissions import GroupDirectory
from core.config import parse_config
from jobs.status import JobStatus
from jobs.store import Store

TOML = {
    "storage": {"url": "file:///tmp/unused"},
    "databases": {"prod": {"dump_url_env": "X"}, "staging": {"dump_url_env": "Y"}},
}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "bb.sqlite3")
    yield s
    s.close()


def inv(
    store: Store,
    slack: dict | None = None,
    user: str = "U1",
    channel: str = "C1",
    dbs: dict | None = None,
    directory: GroupDirectory | None = None,
) -> Invocation:
    raw = {**TOML, "slack": slack or {}}
    if dbs is not None:
        raw["databases"] = dbs
    return Invocation(
        user=user, channel=channel, cfg=parse_config(raw, "test.toml"), store=store, directory=directory
    )


def test_tokenize_reads_quotes_including_curly_ones() -> None:
    assert tokenize('dump prod --reason "before invoice import"') == [
        "dump",
        "prod",
        "--reason",
        "before invoice import",
    ]
    assert tokenize("dump prod --reason \u201cbefore import\u201d") == [
        "dump",
        "prod",
        "--reason",
        "before import",
    ]


def test_dump_queues_a_job_with_reason(store: Store) -> None:
    reply = dispatch('dump prod --reason "before invoice import"', inv(store))
    job = store.get_job(reply.job_id)
    assert (job.kind, job.database, job.status, job.requested_by, job.channel) == (
        "dump",
        "prod",
        JobStatus.QUEUED,
        "U1",
        "C1",
    )
    assert job.params == {"kind": "manual", "reason": "before invoice import"}
    assert f"job {job.id}" in reply.text and reply.ephemeral
    second = dispatch("dump prod", inv(store))
    assert f"after job {job.id}" in second.text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("dupm prod", "Did you mean `/backup dump [DB] [--reason TEXT]`"),
        ("restoer", "unknown command 'restoer'"),
        ("dump prdo", "Did you mean `prod`"),
        ("dump prod --reson x", "Did you mean `--reason`"),
        ("dump", "which database?"),
        ("cancel", "the following arguments are required: JOB"),
        ("cancel abc", "is not a job number"),
        ('dump prod --reason "open', "No closing quotation"),
        ("status 999", "there is no job 999"),
    ],
)
def test_mistakes_get_usage_and_nearest_command(store: Store, text: str, expected: str) -> None:
    reply = dispatch(text, inv(store))
    assert expected in reply.text, reply.text
    assert reply.ephemeral and "Traceback" not in reply.text
    assert store.list_jobs() == []


def test_database_is_optional_with_exactly_one(store: Store) -> None:
    reply = dispatch("dump", inv(store, dbs={"app": {"dump_url_env": "X"}}))
    assert store.get_job(reply.job_id).database == "app"


def test_help_lists_every_command(store: Store) -> None:
    text = dispatch("help", inv(store, slack={"allowed_users": ["U9"]})).text
    for usage in ("dump [DB] [--reason TEXT]", "list [DB]", "status [JOB]", "cancel JOB"):
        assert usage in text
    assert "cancel 12" in dispatch("help cancel", inv(store)).text
    assert dispatch("", inv(store)).text == text


def test_allowlists(store: Store) -> None:
    calls: list[str] = []

    def fetch(group: str) -> list[str]:
        calls.append(group)
        return ["U7"]

    directory = GroupDirectory(fetch)
    slack = {"allowed_channels": ["C1"], "allowed_users": ["U1"], "allowed_group": "S1"}
    assert "not allowed" in dispatch("dump prod", inv(store, slack, user="U5", directory=directory)).text
    assert "this channel" in dispatch("dump prod", inv(store, slack, channel="C2", directory=directory)).text
    assert store.list_jobs() == []
    assert dispatch("dump prod", inv(store, slack, user="U1", directory=directory)).job_id
    assert dispatch("dump prod", inv(store, slack, user="U7", directory=directory)).job_id
    assert dispatch("status", inv(store, slack, user="U7", directory=directory)).text
    assert calls == ["S1"]  # cached


def test_group_lookup_failure_falls_back_to_user_list(store: Store) -> None:
    def broken(group: str) -> list[str]:
        raise RuntimeError("missing_scope")

    directory = GroupDirectory(broken)
    slack = {"allowed_users": ["U1"], "allowed_group": "S1"}
    assert dispatch("dump prod", inv(store, slack, user="U1", directory=directory)).job_id
    assert "not allowed" in dispatch("dump prod", inv(store, slack, user="U7", directory=directory)).text


def test_status_and_cancel(store: Store) -> None:
    job_id = dispatch("dump prod", inv(store)).job_id
    assert f"job {job_id}: dump `prod` queued by <@U1>" in dispatch("status", inv(store)).text
    assert "Cancelled dump prod" in dispatch(f"cancel #{job_id}", inv(store, user="U2")).text
    assert store.get_job(job_id).status == JobStatus.CANCELLED
    assert "already ended: cancelled" in dispatch(f"cancel {job_id}", inv(store)).text
    assert "cancelled" in dispatch(f"status job-{job_id}", inv(store)).text
