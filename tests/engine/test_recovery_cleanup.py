"""What recovery says about an interrupted dump's upload is what happened to it (jobs.kinds.dump.on_interrupted)."""

from __future__ import annotations

from pathlib import Path

from core.config import load_config
from jobs.context import JobContext
from jobs.events import NullReporter
from jobs.kinds.dump import on_interrupted
from jobs.store import Store
from tests.conftest import ConfigWriter
from tests.engine.conftest import s3_setup
from tests.support.procs import free_port
from tests.support.s3server import S3Server


def cleanup_text(tmp_path: Path, upload: dict[str, str] | None) -> str:
    cfg = load_config()
    store = Store(tmp_path / "state.sqlite3")
    try:
        job = store.create_job("dump", "app", {"upload": upload} if upload else {})
        return on_interrupted(JobContext(cfg=cfg, store=store, job=job, reporter=NullReporter()))
    finally:
        store.close()


def test_each_outcome_is_said_as_it_happened(
    tmp_path: Path, write_config: ConfigWriter, s3_server: S3Server, s3_bucket: str, pg_db: str
) -> None:
    s3_setup(write_config, s3_server, s3_bucket, pg_db)
    client = s3_server.client()
    key = "db/app/2026/01/app-20260101T000000Z-manual-0abc.dump.zst.enc"
    upload_id = client.create_multipart_upload(Bucket=s3_bucket, Key=f"backups/{key}")["UploadId"]

    assert cleanup_text(tmp_path, None) == "Its upload had not started, so nothing was left behind."
    said = cleanup_text(tmp_path, {"key": key, "upload_id": upload_id})
    assert said == f"Its partial upload of {key} was aborted."
    assert client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []
    again = cleanup_text(tmp_path, {"key": key, "upload_id": upload_id})
    assert (
        again == f"Its upload of {key} was already gone (completed or aborted), so nothing was left behind."
    )

    # Storage unreachable: it says the upload was NOT aborted, and how to remove it later.
    cfg_path = Path(load_config().path)  # the file written above
    text = cfg_path.read_text().replace(s3_server.endpoint_url, f"http://127.0.0.1:{free_port()}")
    cfg_path.write_text(text.replace("[storage]\n", "[storage]\nmax_attempts = 1\n", 1))
    other = client.create_multipart_upload(Bucket=s3_bucket, Key=f"backups/{key}")["UploadId"]
    down = cleanup_text(tmp_path, {"key": key, "upload_id": other})
    assert down.startswith(f"Its partial upload of {key} could NOT be aborted (storage kept failing to")
    assert "`/backup prune app --confirm`" in down
    assert [u["UploadId"] for u in client.list_multipart_uploads(Bucket=s3_bucket)["Uploads"]] == [other]
