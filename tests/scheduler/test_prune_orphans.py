"""`/backup prune --confirm` also deletes leftovers: objects over a day old that have no manifest.

A dump whose manifest could not be written, and whose object could not be deleted either,
leaves its object behind (engine.dump); it is not a backup, only storage someone pays for.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from commands.base import Invocation
from commands.grammar import dispatch
from commands.permissions import GroupDirectory
from engine.catalog import list_backups
from engine.dump import run_dump
from jobs.status import JobStatus
from tests.scheduler.conftest import JOBS
from tests.support.fake_slack import FakeSlack


def test_confirmed_prune_deletes_a_day_old_object_without_manifest_and_keeps_the_backups(
    pg_db: str, backup_key: str, make_cfg: Any, make_bot: Any, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    cfg = make_cfg(pg_db, local_storage=True)
    bot = make_bot(cfg)
    backup = run_dump(cfg, "prod")
    bucket = tmp_path / "bucket"
    orphan = bucket / "db/prod/2026/11/prod-20261101T030000Z-daily-0abc.dump.zst.enc"
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(os.urandom(4096))
    two_days_ago = time.time() - 2 * 86400
    os.utime(orphan, (two_days_ago, two_days_ago))
    fresh = bucket / "db/prod/2026/12/prod-20261205T030000Z-daily-1abc.dump.zst.enc"
    fresh.parent.mkdir(parents=True, exist_ok=True)
    fresh.write_bytes(b"a dump still being finished")  # under a day old: maybe a dump at work
    directory = GroupDirectory(lambda group: {"S0LEADS": ["ULEAD"]}[group])

    def run(text: str, user: str) -> Any:
        inv = Invocation(
            user=user, channel=JOBS, cfg=cfg, store=bot.store, reporter=bot.reporter, directory=directory
        )
        return dispatch(text, inv)

    queued = run("prune prod --confirm", "ULEAD")
    job = bot.wait_job(bot.store.get_job(queued.job_id))
    assert job.status == JobStatus.SUCCEEDED, job.error
    [gone] = job.result["orphans"]
    assert gone["key"] == str(orphan.relative_to(bucket)) and gone["action"] == "deleted"
    assert not orphan.exists() and fresh.exists()
    assert [m.id for m in list_backups(cfg, "prod")] == [backup.id]  # the real backup is untouched
    assert (bucket / backup.key).exists()
    bot.flush()
    said = next(m.text for m in fake_slack.messages(JOBS) if f"(job {job.id})" in m.text)
    assert "prod: 1 kept, nothing to delete, 1 leftover object without a manifest deleted" in said
