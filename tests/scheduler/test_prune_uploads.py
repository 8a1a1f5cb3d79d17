"""`/backup prune` lists unfinished uploads older than a day; a lead's --confirm aborts them."""

from __future__ import annotations

from typing import Any

from commands.base import Invocation
from commands.grammar import dispatch
from commands.permissions import GroupDirectory
from jobs.status import JobStatus
from tests.scheduler.conftest import JOBS
from tests.support import pg
from tests.support.fake_slack import FakeSlack
from tests.support.s3server import S3Server


def test_stale_uploads_are_listed_and_aborted_on_confirm(
    make_cfg: Any, make_bot: Any, fake_slack: FakeSlack, s3_server: S3Server, s3_bucket: str
) -> None:
    cfg = make_cfg(pg.url_for("unused"))
    bot = make_bot(cfg)
    client = s3_server.client()
    # Left by a dump whose abort never reached the bucket (moto dates every upload in 2010: "old").
    key = "bb/db/prod/2026/01/prod-20260101T030000Z-daily-0abc.dump.zst.enc"
    client.create_multipart_upload(Bucket=s3_bucket, Key=key)
    client.create_multipart_upload(Bucket=s3_bucket, Key="bb/db/other/2026/01/x.dump.zst.enc")
    directory = GroupDirectory(lambda group: {"S0LEADS": ["ULEAD"]}[group])

    def run(text: str, user: str) -> Any:
        inv = Invocation(
            user=user, channel=JOBS, cfg=cfg, store=bot.store, reporter=bot.reporter, directory=directory
        )
        return dispatch(text, inv)

    plan = run("prune prod", "U1").later().text
    assert "1 unfinished upload(s) older than a day" in plan and "/backup prune prod --confirm" in plan

    queued = run("prune prod --confirm", "ULEAD")
    job = bot.wait_job(bot.store.get_job(queued.job_id))
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.result["uploads_aborted"] == [key.removeprefix("bb/")]
    left = [u["Key"] for u in client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", [])]
    assert left == ["bb/db/other/2026/01/x.dump.zst.enc"]  # another database's: not this prune's
    bot.flush()
    message = next(m for m in fake_slack.messages(JOBS) if f"job {job.id}" in m.text)
    assert "Unfinished uploads aborted" in str(message.blocks) or "Unfinished uploads aborted" in message.text
