"""Prune at scale: HEADs only where Object Lock can hold a backup, deletes in batches.

A DeleteObjects request takes 1,000 keys; the manifests go first, then the objects of
the backups whose manifest is gone, so a refused manifest delete keeps its data.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.storage import open_storage
from core.config import load_config
from engine.prune import DELETE, DELETED, FAILED, LOCKED, apply_prune, plan_prune
from tests.conftest import ConfigWriter
from tests.scheduler.s3_faults import allow_deletes, deny_deletes
from tests.support.backups import object_ids, stored_ids
from tests.support.catalog_fill import fake_manifest, put_backups
from tests.support.s3count import DELETE_MANY, HEAD, CountingProxy, operation
from tests.support.s3proxy import s3_error
from tests.support.s3server import S3Server

NOW = datetime.now(UTC).replace(microsecond=0)


def old_deploys(n: int) -> list:
    # pre-deploy backups past pre_event_days (30): only the newest-good rule keeps one
    return [fake_manifest("prod", NOW - timedelta(days=40, minutes=k)) for k in range(n)]


def config(write_config: ConfigWriter, bucket: str, endpoint: str, extra: str = ""):  # type: ignore[no-untyped-def]
    path: Path = write_config(
        f"s3://{bucket}/bb", {"prod": "postgresql://postgres@localhost/unused"}, endpoint_url=endpoint
    )
    if extra:
        path.write_text(path.read_text().replace('region = "us-east-1"\n', f'region = "us-east-1"\n{extra}'))
    return load_config(str(path))


def test_deletes_go_in_batches_of_a_thousand_manifests_first(
    s3_server: S3Server, s3_bucket: str, proxy: CountingProxy, write_config: ConfigWriter
) -> None:
    cfg = config(write_config, s3_bucket, proxy.endpoint_url)
    backups = old_deploys(1002)
    put_backups(s3_server.client(), s3_bucket, "bb/", backups)
    plan = plan_prune(cfg, "prod", now=NOW)
    assert len(plan.to_delete) == 1001 and HEAD not in proxy.counts

    proxy.reset()
    done = apply_prune(cfg, plan)
    assert len(done.deleted) == 1001 and not done.failed
    assert proxy.counts == {DELETE_MANY: 5}
    sizes = [len(b) for b in proxy.batches]
    assert sizes == [1000, 1, 1000, 1000, 2]  # manifests; objects and verification records
    assert all(k.endswith(".manifest.json") for b in proxy.batches[:2] for k in b)
    rest = [k for b in proxy.batches[2:] for k in b]
    assert all(k.endswith((".dump.zst.enc", ".verify.json")) for k in rest) and len(rest) == 2 * 1001
    newest = max(backups, key=lambda m: m.created_at)
    assert stored_ids(cfg, "prod") == {newest.id} and object_ids(cfg, "prod") == {newest.id}


def test_a_refused_manifest_delete_keeps_its_object(
    s3_server: S3Server, s3_bucket: str, proxy: CountingProxy, write_config: ConfigWriter
) -> None:
    cfg = config(write_config, s3_bucket, proxy.endpoint_url)
    backups = old_deploys(4)
    put_backups(s3_server.client(), s3_bucket, "bb/", backups)
    plan = plan_prune(cfg, "prod", now=NOW)
    refused = plan.to_delete[0].manifest
    deny_deletes(s3_server, s3_bucket, f"bb/{refused.manifest_key}")
    try:
        done = apply_prune(cfg, plan)
    finally:
        allow_deletes(s3_server, s3_bucket)
    [failed] = done.failed
    assert failed.backup_id == refused.id and "storage refused to delete" in failed.error
    assert len(done.deleted) == 2
    assert refused.id in stored_ids(cfg, "prod")  # manifest and object both still there


class DemandsContentMD5(CountingProxy):
    """What MinIO, Ceph and other S3-compatible stores answer to a DeleteObjects without Content-MD5."""

    def __init__(self, upstream: str) -> None:
        self.verdict = threading.local()
        super().__init__(upstream)

    def seen(self, command: str, path: str, headers: dict[str, str], body: bytes) -> None:
        super().seen(command, path, headers, body)
        md5 = {k.lower(): v for k, v in headers.items()}.get("content-md5")
        right = base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode()
        self.verdict.refuse = operation(command, path)[0] == DELETE_MANY and md5 != right

    def intercept(self, command: str, query: dict[str, list[str]]) -> tuple[int, bytes] | None:
        if self.verdict.refuse:
            return 400, s3_error(
                "MissingContentMD5", "Missing required header for this request: Content-Md5."
            )
        return None


def test_batch_deletes_carry_a_content_md5(
    s3_server: S3Server, s3_bucket: str, write_config: ConfigWriter
) -> None:
    strict = DemandsContentMD5(s3_server.endpoint_url)
    try:
        cfg = config(write_config, s3_bucket, strict.endpoint_url)
        put_backups(s3_server.client(), s3_bucket, "bb/", old_deploys(3))
        done = apply_prune(cfg, plan_prune(cfg, "prod", now=NOW))
        assert len(done.deleted) == 2 and not done.failed
        assert strict.counts[DELETE_MANY] == 2 and len(stored_ids(cfg, "prod")) == 1
    finally:
        strict.stop()


@pytest.mark.parametrize("locked", [True, False])
def test_heads_only_where_object_lock_is_possible(
    s3_server: S3Server, proxy: CountingProxy, write_config: ConfigWriter, locked: bool
) -> None:
    bucket = s3_server.new_bucket(object_lock=locked)
    extra = 'object_lock_mode = "GOVERNANCE"\nobject_lock_days = 1\n' if locked else ""
    cfg = config(write_config, bucket, proxy.endpoint_url, extra)
    storage = open_storage(cfg.storage)  # writes with the configured lock, as a dump does
    for m in old_deploys(5):
        storage.put_bytes(m.key, m.id.encode())
        storage.put_bytes(m.manifest_key, m.to_json())
    proxy.reset()
    plan = plan_prune(cfg, "prod", now=NOW)
    if locked:
        assert proxy.counts[HEAD] == 2 * 4  # object and manifest of each candidate
        assert [i.action for i in plan.items].count(LOCKED) == 4
    else:
        assert HEAD not in proxy.counts
        assert [i.action for i in plan.items].count(DELETE) == 4
    assert all(i.action not in (DELETED, FAILED) for i in plan.items)
