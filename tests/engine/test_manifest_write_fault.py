"""A dump whose object was stored but whose manifest could not be written.

What a user meets: the storage refuses the manifest's PUT (a bucket policy, as a tightened
IAM policy would). The dump must fail saying exactly that, leave no backup listed (a backup
exists iff its manifest does), and not leave the stored object behind to be billed — or,
when the delete is refused too, name the object and `backupbot prune --confirm`, which then
really removes it once it is a day old.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from adapters.storage import open_storage
from core.config import load_config
from core.errors import DumpError
from engine.catalog import list_backups
from engine.dump import run_dump
from engine.prune import PruneSummary, apply_prune, plan_prune
from tests.conftest import ConfigWriter
from tests.engine.conftest import s3_setup
from tests.support.s3server import S3Server

PREFIX = "backups/db/"


def deny(s3_server: S3Server, bucket: str, *statements: tuple[str, str]) -> None:
    """A bucket policy refusing each (action, key pattern) under the backups' prefix."""
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": action,
                "Resource": f"arn:aws:s3:::{bucket}/{PREFIX}{pattern}",
            }
            for action, pattern in statements
        ],
    }
    s3_server.client().put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))


def stored_keys(s3_server: S3Server, bucket: str) -> list[str]:
    listed = s3_server.client().list_objects_v2(Bucket=bucket, Prefix=PREFIX)
    return sorted(o["Key"].removeprefix("backups/") for o in listed.get("Contents", []))


def open_uploads(s3_server: S3Server, bucket: str) -> list[str]:
    return [u["Key"] for u in s3_server.client().list_multipart_uploads(Bucket=bucket).get("Uploads", [])]


def test_a_refused_manifest_deletes_the_stored_object_and_says_so(
    write_config: ConfigWriter, s3_server: S3Server, s3_bucket: str, realistic_db: str, backup_key: str
) -> None:
    s3_setup(write_config, s3_server, s3_bucket, realistic_db)
    cfg = load_config()
    deny(s3_server, s3_bucket, ("s3:PutObject", "*.manifest.json"))

    with pytest.raises(DumpError) as caught:
        run_dump(cfg, "app")
    err = caught.value
    assert err.message.startswith("backup of database 'app' failed: ") and ".manifest.json" in err.message
    hint = err.hint or ""
    assert "the uploaded object was deleted again" in hint and "Run the dump again" in hint
    assert "partial upload" not in hint  # the upload had completed: no claim about aborting it
    assert list_backups(cfg, "app") == []
    assert stored_keys(s3_server, s3_bucket) == []  # nothing left to be billed
    assert open_uploads(s3_server, s3_bucket) == []


def test_an_object_that_cannot_be_deleted_either_is_named_and_prune_removes_it(
    write_config: ConfigWriter, s3_server: S3Server, s3_bucket: str, realistic_db: str, backup_key: str
) -> None:
    s3_setup(write_config, s3_server, s3_bucket, realistic_db)
    cfg = load_config()
    deny(s3_server, s3_bucket, ("s3:PutObject", "*.manifest.json"), ("s3:DeleteObject", "*"))

    with pytest.raises(DumpError) as caught:
        run_dump(cfg, "app")
    hint = caught.value.hint or ""
    [left] = stored_keys(s3_server, s3_bucket)
    assert left.endswith(".dump.zst.enc")
    assert "could not be deleted again" in hint and "was deleted again" not in hint
    assert f"{left} is left without a manifest" in hint and "`backupbot prune --confirm`" in hint
    assert list_backups(cfg, "app") == []  # an orphan is never listed as a backup

    s3_server.client().delete_bucket_policy(Bucket=s3_bucket)
    good = run_dump(cfg, "app")  # a real backup beside it must survive the sweep
    storage = open_storage(cfg.storage)

    # Today the object could still be a dump writing its manifest: prune leaves it alone.
    fresh = plan_prune(cfg, "app", storage=storage)
    assert fresh.orphans == ()
    # A day later it is a leftover: the dry run names it and deletes nothing …
    later = datetime.now(UTC) + timedelta(days=2)
    plan = plan_prune(cfg, "app", now=later, storage=storage)
    assert [o.key for o in plan.orphans] == [left]
    assert "1 leftover object without a manifest would be deleted (dry run)" in PruneSummary.of(plan).line()
    assert left in stored_keys(s3_server, s3_bucket)
    # … and applying it deletes the orphan, not the backup.
    done = apply_prune(cfg, plan, storage)
    assert [o.action for o in done.orphans] == ["deleted"]
    assert "1 leftover object without a manifest deleted" in PruneSummary.of(done).line()
    assert left not in stored_keys(s3_server, s3_bucket)
    assert [m.id for m in list_backups(cfg, "app")] == [good.id]
    assert good.key in stored_keys(s3_server, s3_bucket)
