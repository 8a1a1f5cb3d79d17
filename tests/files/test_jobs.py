"""The files jobs in the runner: a sync whose process died leaves no half-uploaded copy behind."""

from __future__ import annotations

import os
import time

from jobs.events import NullReporter
from jobs.runner import Runner
from jobs.status import JobStatus
from jobs.store import Store
from tests.files.conftest import FilesFactory


def test_an_interrupted_sync_aborts_its_open_upload(files_setup: FilesFactory) -> None:
    setup = files_setup()
    cfg = setup.cfg
    client = setup.client()
    # what a killed sync leaves: a multipart upload of a copy, never completed
    client.create_multipart_upload(
        Bucket=setup.backup_bucket, Key="bb/files/data/files-20261201T043000Z/xml/a.xml.zst.enc"
    )
    store = Store.for_config(cfg)
    try:
        job = store.create_job("files_sync", None, {"schedule": "files_sync:*"})
        assert store.transition(
            job.id,
            JobStatus.QUEUED,
            JobStatus.RUNNING,
            worker=f"{os.uname().nodename}:999999:x",
            heartbeat_at=time.time(),
        )
        runner = Runner(cfg, store, NullReporter(), poll_interval=0.05)
        [found] = runner.recover()
        after = store.get_job(found.id)
        assert after.status == JobStatus.INTERRUPTED
        assert "1 partial upload(s) aborted." in after.error["detail"]
        assert not client.list_multipart_uploads(Bucket=setup.backup_bucket).get("Uploads")
    finally:
        store.close()
