"""The dead-man's switch (every 10 minutes) and retention after each nightly read the cache.

Between listings nothing is read again: when no backup was added or changed, each
makes listing requests only, never a request per manifest; a new backup costs one GET.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.config import load_config
from engine.catalog import list_backups
from engine.manifest import Manifest
from jobs.events import NullReporter
from jobs.scheduler import Scheduler
from jobs.status import JobStatus
from jobs.store import Store
from tests.conftest import ConfigWriter
from tests.support.catalog_fill import fake_manifest, put_backups
from tests.support.s3count import DELETE_MANY, GET, HEAD, LIST, LOCK_CONFIG, CountingProxy
from tests.support.s3server import S3Server

NOW = datetime(2026, 11, 20, 3, 30, tzinfo=UTC)


def listed_now(scheduler: Scheduler) -> list[Manifest]:
    return list_backups(scheduler.cfg, "prod")


def test_deadman_and_retention_make_no_per_manifest_request_when_nothing_changed(
    s3_server: S3Server, s3_bucket: str, proxy: CountingProxy, write_config: ConfigWriter, tmp_path: Path
) -> None:
    path = write_config(
        f"s3://{s3_bucket}/bb",
        {"prod": "postgresql://postgres@localhost/unused"},
        endpoint_url=proxy.endpoint_url,
    )
    nightly = 'restore_url_env = "PROD_RESTORE_URL"\nschedule = "0 3 * * *"\n'
    path.write_text(path.read_text().replace('restore_url_env = "PROD_RESTORE_URL"\n', nightly))
    cfg = load_config(str(path))
    nightlies = [fake_manifest("prod", NOW - timedelta(days=k, minutes=30), kind="daily") for k in range(60)]
    deploys = [fake_manifest("prod", NOW - timedelta(days=k, hours=7)) for k in range(40, 60)]
    put_backups(s3_server.client(), s3_bucket, "bb/", nightlies + deploys)
    store = Store.for_config(cfg)
    scheduler = Scheduler(cfg, store, NullReporter(), clock=lambda: NOW)
    try:
        assert scheduler.check_freshness(NOW) == {"prod": "ok"}
        this_month = [m for m in nightlies if m.created_at.month == NOW.month]
        assert proxy.counts == {LIST: 3, GET: len(this_month)}  # cold: the newest month only

        for minutes in (10, 20):
            proxy.reset()
            assert scheduler.check_freshness(NOW + timedelta(minutes=minutes)) == {"prod": "ok"}
            assert proxy.counts == {LIST: 3}

        job = store.create_job("dump", "prod", {"schedule": "dump:prod"}, status=JobStatus.SUCCEEDED)
        proxy.reset()
        assert scheduler.apply_retention(job, NOW) == "ok"
        counts = proxy.counts
        # Retention's first run reads the months the dead-man's switch did not, then deletes
        # in batches: every manifest first, then the objects. No HEAD: the bucket has no
        # Object Lock, which one request tells.
        assert counts[GET] == len(nightlies) + len(deploys) - len(this_month)
        assert counts[DELETE_MANY] == 2 and counts[LOCK_CONFIG] == 1 and HEAD not in counts
        manifests, objects = proxy.batches
        assert manifests and all(k.endswith(".manifest.json") for k in manifests)
        # objects, then the verification records that may sit beside them (engine.verify_record)
        assert [k.replace(".manifest.json", ".dump.zst.enc") for k in manifests] == objects[: len(manifests)]
        assert [k.replace(".manifest.json", ".verify.json") for k in manifests] == objects[len(manifests) :]
        assert {k.rsplit("/", 1)[1].removesuffix(".dump.zst.enc") for k in objects}.isdisjoint(
            {m.id for m in listed_now(scheduler)}
        )

        proxy.reset()
        assert scheduler.apply_retention(job, NOW) == "ok"
        assert proxy.counts == {LIST: 1}  # nothing changed: the listing, and nothing to delete

        newer = fake_manifest("prod", NOW + timedelta(hours=1), kind="manual")
        put_backups(s3_server.client(), s3_bucket, "bb/", [newer])
        proxy.reset()
        scheduler.check_freshness(NOW + timedelta(hours=1, minutes=10))
        assert proxy.counts == {LIST: 3, GET: 1}  # the one new manifest
    finally:
        store.close()
