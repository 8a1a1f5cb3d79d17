"""``GET /metrics`` (Prometheus text format) and ``GET /healthz`` for the web process.

Every figure is read from the job store when Prometheus scrapes, not counted in this
process: a dump run by a separate ``python -m jobs`` worker, or before a restart, is in
the counts all the same, and two bot processes never disagree. The one exception is the
newest good backup per database, which lives in the bucket: it is listed in the
background at most every ``BUCKET_REFRESH`` seconds (a scrape never waits for S3) and
merged with the dumps the store saw finish since, so the figure moves as soon as a dump
is stored.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from core.config import Config
from core.redact import redact
from jobs.store import Store

log = logging.getLogger(__name__)

BUCKET_REFRESH = 300.0
DURATION_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 14400.0)
_STAMP = re.compile(r"-(\d{8}T\d{6}Z)-[a-z-]+(?:-[0-9][0-9a-z]{3})?$")  # engine.manifest.ID_RE's stamp
ALERTS_SENT_KEY = "metrics:alerts_sent"
SCHEDULER_TICK_KEY = "scheduler:last_tick"


def _epoch(iso: str | None) -> float | None:
    if not iso:
        return None
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _id_epoch(backup_id: str) -> float | None:
    m = _STAMP.search(backup_id)
    if not m:
        return None
    return datetime.strptime(m.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()


class NewestBackups:
    """The newest good backup per database as (created epoch, stored bytes), from the bucket."""

    def __init__(self, cfg: Config, refresh: float = BUCKET_REFRESH) -> None:
        self.cfg = cfg
        self.refresh = refresh
        self.newest: dict[str, tuple[float, int]] = {}
        self.listed_at = 0.0
        self._busy = threading.Lock()

    def maybe_refresh(self) -> None:
        """Start a background listing when the last one is old; never blocks a scrape."""
        if time.monotonic() - self.listed_at < self.refresh and self.listed_at:
            return
        if not self._busy.acquire(blocking=False):
            return
        threading.Thread(target=self._list, name="metrics-bucket", daemon=True).start()

    def _list(self) -> None:
        from engine.catalog import list_backups
        from engine.prune import backup_ref

        try:
            newest: dict[str, tuple[float, int]] = {}
            for m in list_backups(self.cfg):
                if m.database in newest or not backup_ref(m).good:
                    continue
                newest[m.database] = (m.created_at.timestamp(), int(m.stored_bytes))
            self.newest = newest
        except Exception as exc:  # a scrape must still answer; the figures stay as they were
            log.warning("metrics: listing the bucket failed: %s", redact(str(exc)))
        finally:
            self.listed_at = time.monotonic()
            self._busy.release()


class StoreCollector:
    """Reads the figures from the store on each scrape (a few indexed queries)."""

    def __init__(self, cfg: Config, store: Store, backups: NewestBackups) -> None:
        self.cfg = cfg
        self.store = store
        self.backups = backups

    def _newest(self) -> dict[str, tuple[float, int]]:
        newest = dict(self.backups.newest)
        rows = self.store.db.query(
            "SELECT database, max(id) AS id FROM jobs WHERE kind = 'dump' AND status = 'succeeded' GROUP BY database"
        )
        for row in list(rows):
            job = self.store.find_job(row["id"])
            result = (job.result or {}) if job else {}
            at = _id_epoch(str(result.get("backup_id", "")))
            if at is None or not row["database"]:
                continue
            if row["database"] not in newest or newest[row["database"]][0] < at:
                newest[row["database"]] = (at, int(result.get("stored_bytes") or 0))
        return newest

    def _durations(self) -> Iterator[Metric]:
        h = HistogramMetricFamily(
            "backupbot_job_duration_seconds",
            "How long successful dumps and restores took, from start to end.",
            labels=["kind"],
        )
        rows = self.store.db.query(
            "SELECT kind, started_at, finished_at FROM jobs WHERE kind IN ('dump', 'restore') AND status = 'succeeded'"
        )
        seconds: dict[str, list[float]] = {"dump": [], "restore": []}
        for row in rows:
            start, end = _epoch(row["started_at"]), _epoch(row["finished_at"])
            if start is not None and end is not None:
                seconds[row["kind"]].append(max(0.0, end - start))
        for kind, values in seconds.items():
            buckets = [(str(b), float(sum(1 for v in values if v <= b))) for b in DURATION_BUCKETS]
            buckets.append(("+Inf", float(len(values))))
            h.add_metric([kind], buckets, sum(values))
        yield h

    def collect(self) -> Iterable[Metric]:
        self.backups.maybe_refresh()
        ts = GaugeMetricFamily(
            "backupbot_newest_backup_timestamp_seconds",
            "When the newest good backup of each database was taken (Unix time).",
            labels=["database"],
        )
        size = GaugeMetricFamily(
            "backupbot_newest_backup_size_bytes",
            "Stored (compressed, encrypted) size of the newest good backup of each database.",
            labels=["database"],
        )
        for database, (at, stored) in sorted(self._newest().items()):
            ts.add_metric([database], at)
            size.add_metric([database], stored)
        yield ts
        yield size
        yield from self._durations()
        jobs = CounterMetricFamily(
            "backupbot_jobs", "Jobs that ended, by kind and outcome.", labels=["kind", "outcome"]
        )
        for row in self.store.db.query(
            "SELECT kind, status, count(*) AS n FROM jobs WHERE status IN "
            "('succeeded', 'failed', 'cancelled', 'expired', 'interrupted') GROUP BY kind, status ORDER BY kind, status"
        ):
            jobs.add_metric([row["kind"], row["status"]], row["n"])
        yield jobs
        pending = next(
            iter(self.store.db.query("SELECT count(*) AS n FROM jobs WHERE status = 'awaiting_approval'"))
        )["n"]
        yield GaugeMetricFamily(
            "backupbot_pending_approvals", "Restore requests waiting for a lead's approval.", value=pending
        )
        yield CounterMetricFamily(
            "backupbot_alerts_sent",
            "Alerts handed to Slack (failures, stale backups, retention).",
            value=float(self.store.kv_get(ALERTS_SENT_KEY, 0) or 0),
        )
        tick = GaugeMetricFamily(
            "backupbot_scheduler_last_tick_timestamp_seconds",
            "When a scheduler (in any process sharing the store) last ran its pass (Unix time).",
        )
        last = self.store.kv_get(SCHEDULER_TICK_KEY)
        if last is not None:
            tick.add_metric([], float(last))
        yield tick
        frozen = GaugeMetricFamily("backupbot_frozen", "1 while a database is frozen.", labels=["database"])
        from jobs.freeze import is_frozen

        for database in sorted(self.cfg.databases):
            frozen.add_metric([database], 1.0 if is_frozen(self.store, database) else 0.0)
        yield frozen


def metrics_registry(cfg: Config, store: Store, refresh: float = BUCKET_REFRESH) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(cfg, store, NewestBackups(cfg, refresh)))  # type: ignore[arg-type]
    return registry


def render_metrics(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)


def health(store: Store, threads: dict[str, Callable[[], bool | None]]) -> tuple[bool, dict[str, Any]]:
    """Each thread alive (True), dead (False) or turned off (None); and whether the store answers."""
    report: dict[str, Any] = {}
    ok = True
    for name, alive in threads.items():
        state = alive()
        report[name] = "off" if state is None else ("alive" if state else "dead")
        ok = ok and state is not False
    try:
        next(iter(store.db.query("SELECT count(*) AS n FROM jobs")))
        report["store"] = "ok"
    except Exception as exc:
        report["store"] = f"error: {redact(str(exc))[:200]}"
        ok = False
    report["ok"] = ok
    return ok, report


def health_body(report: dict[str, Any]) -> bytes:
    return (json.dumps(report, sort_keys=True) + "\n").encode()
