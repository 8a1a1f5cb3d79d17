"""End to end: signed Slack requests to `python -m bot`, real PostgreSQL, local S3, fake Slack.

Nothing of backupbot is mocked; the assertions are what a person would check: the
message in the channel, `backupbot list`, the bucket.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from jobs.status import JobStatus
from tests.bot.conftest import ROOT, SECRET, Bot, fill_incompressible
from tests.support.fake_slack import FakeSlack
from tests.support.slack_signing import command_body, post_signed

BACKUP_ID = re.compile(r"app-\d{8}T\d{6}Z-manual-[0-9a-z]{4}")


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def job_message(fake: FakeSlack, pattern: str, timeout: float = 60) -> Any:
    return fake.wait_for(
        lambda: next((m for m in fake.messages("C1") if re.search(pattern, m.text)), None),
        timeout=timeout,
        what=f"a message matching {pattern!r}",
    )


def test_dump_from_slack_reports_in_channel_and_is_listed(
    bot: Bot, fake_slack: FakeSlack, bot_env: dict[str, Any]
) -> None:
    start = time.monotonic()
    resp = bot.command('dump app --reason "before invoice import"')
    ack_seconds = time.monotonic() - start
    assert resp.status_code == 200 and ack_seconds < 2.0
    assert "Queued a backup of `app` as job 1" in resp.json()["text"]
    assert resp.json()["response_type"] == "ephemeral"

    final = job_message(fake_slack, r"done")
    backup_id = BACKUP_ID.search(final.text).group(0)
    # posted at once (rendered as the job is when it goes out), then edited in place
    assert re.search(r"queued|running", final.edits[0])
    assert len(final.edits) >= 2 and final.edits[-1] == final.text
    assert "before invoice import" in json.dumps(final.blocks)
    assert not any(b["type"] == "actions" for b in final.blocks)  # no Cancel button once done
    assert len(fake_slack.messages("C1")) == 1
    thread = fake_slack.wait_for(lambda: fake_slack.thread(final.ts), what="a step line in the thread")
    assert "upload (app): ok" in thread[0].text

    listed = cli(bot_env["env"], "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert backup_id in listed.stdout

    # `/backup list` answers at once, then posts the list to the response_url
    resp = bot.command("list", response_url=fake_slack.response_url("list1"))
    assert resp.status_code == 200 and "Looking up backups" in resp.json()["text"]
    posted = fake_slack.wait_for(lambda: fake_slack.responses.get("list1"), what="the list reply")
    assert backup_id in posted[0]["text"] and posted[0]["response_type"] == "ephemeral"

    status = bot.command("status 1").json()["text"]
    assert "done" in status and backup_id in status
    calls = json.dumps([c.params for c in fake_slack.api_calls()])
    assert bot_env["db"].split("@")[-1] not in calls or "postgres@" not in calls


def test_bad_signature_and_stale_timestamp_are_refused(bot: Bot, fake_slack: FakeSlack) -> None:
    body = command_body("dump app")
    assert post_signed(bot.url, "wrong-secret", body).status_code == 401
    assert post_signed(bot.url, SECRET, body, timestamp=int(time.time()) - 6 * 60).status_code == 401
    tampered = post_signed(bot.url, SECRET, body)  # sanity: the same body signed right is accepted
    assert tampered.status_code == 200
    store = bot.store()
    assert len(store.list_jobs()) == 1  # only the correctly signed one
    store.close()


def test_allowlist_and_usage_replies(bot: Bot, fake_slack: FakeSlack) -> None:
    refused = bot.command("dump app", user="U9")
    assert refused.status_code == 200
    body = refused.json()
    assert body["response_type"] == "ephemeral" and "not allowed" in body["text"]
    unknown = bot.command("dupm app").json()
    assert (
        "unknown command 'dupm'" in unknown["text"] and "/backup dump [DB] [--reason TEXT]" in unknown["text"]
    )
    bad_db = bot.command("dump prdo").json()["text"]
    assert "unknown database 'prdo'" in bad_db
    store = bot.store()
    assert store.list_jobs() == []
    store.close()
    # a member of the allowed user group (looked up with usergroups.users.list) may
    ok = bot.command("dump app", user="U7").json()["text"]
    assert "Queued" in ok
    assert [c.params.get("usergroup") for c in fake_slack.api_calls("usergroups.users.list")] == ["S1"]


def test_rate_limited_slack_delays_messages_not_the_backup(bot: Bot, fake_slack: FakeSlack) -> None:
    fake_slack.rate_limit(seconds=4, retry_after=1)
    resp = bot.command("dump app")
    assert resp.status_code == 200  # the ack does not depend on the Web API
    store = bot.store()
    deadline = time.monotonic() + 60
    while store.get_job(1).status != JobStatus.SUCCEEDED and time.monotonic() < deadline:
        assert store.get_job(1).status in (JobStatus.QUEUED, JobStatus.RUNNING)
        time.sleep(0.1)
    assert store.get_job(1).status == JobStatus.SUCCEEDED
    store.close()
    final = job_message(fake_slack, r"done", timeout=60)
    assert BACKUP_ID.search(final.text)
    assert fake_slack.rejected > 0
    first_ok = min(c.at for c in fake_slack.api_calls() if c.status == 200 and c.method.startswith("chat."))
    first_429 = min(c.at for c in fake_slack.api_calls() if c.status == 429)
    assert first_ok - first_429 >= 0.9  # waited as Retry-After asked


def test_killed_mid_dump_is_interrupted_reported_and_cleaned_up(
    bot_env: dict[str, Any], fake_slack: FakeSlack, slow_pg_dump: dict[str, str]
) -> None:
    fill_incompressible(bot_env["db"], megabytes=8)
    env = {**bot_env["env"], "PATH": slow_pg_dump["PATH"]}
    first = Bot(bot_env["dir"], env).start()
    try:
        assert first.command("dump app").status_code == 200
        s3 = bot_env["s3"].client()
        bucket = bot_env["bucket"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if Path(slow_pg_dump["marker"]).exists() and s3.list_multipart_uploads(Bucket=bucket).get(
                "Uploads"
            ):
                break
            time.sleep(0.1)
        assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads"), (
            "the dump never reached a multipart upload"
        )
        job_message(fake_slack, r"running")
        # Another process (a deploy pipeline's CLI dump) is uploading under the same prefix.
        other_key = "bb/db/app/2026/01/app-20260101T000000Z-pre-deploy-0abc.dump.zst.enc"
        other = s3.create_multipart_upload(Bucket=bucket, Key=other_key)["UploadId"]
        first.kill()
    finally:
        first.stop()

    second = Bot(bot_env["dir"], bot_env["env"]).start()
    try:
        msg = job_message(fake_slack, r"interrupted")
        assert len(fake_slack.messages("C1")) == 1  # the same message, edited
        assert "Run it again" in msg.text and "partial upload" in msg.text and "was aborted" in msg.text
        store = second.store()
        job = store.get_job(1)
        assert job.status == JobStatus.INTERRUPTED
        store.close()
        left = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
        assert [(u["Key"], u["UploadId"]) for u in left] == [(other_key, other)]  # only its own was aborted
        listed = cli(bot_env["env"], "list", "--json")
        assert listed.returncode == 0 and not BACKUP_ID.search(listed.stdout)
        # the restarted bot works: a new dump goes through
        assert second.command("dump app").status_code == 200
        job_message(fake_slack, r"job 2\).*\n.*stored|done \(job 2\)")
    finally:
        second.stop()
