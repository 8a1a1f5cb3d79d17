"""`/metrics` and `/healthz` on the bot's web process, read as Prometheus and a load balancer would."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.bot.conftest import ROOT, Bot
from tests.support.fake_slack import FakeSlack

pytestmark = pytest.mark.usefixtures("state_backend")  # the store's suite runs on SQLite and PostgreSQL


def scrape(bot: Bot) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    resp = requests.get(f"http://127.0.0.1:{bot.port}/metrics", timeout=10)
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/plain; version=")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(resp.text)
        for s in family.samples
    }


def wait_for(bot: Bot, predicate: Any, what: str, timeout: float = 60) -> dict[Any, float]:
    deadline = time.monotonic() + timeout
    while True:
        samples = scrape(bot)
        if predicate(samples):
            return samples
        assert time.monotonic() < deadline, f"{what}: {samples}"
        time.sleep(0.2)


NEWEST = ("backupbot_newest_backup_timestamp_seconds", (("database", "app"),))
SIZE = ("backupbot_newest_backup_size_bytes", (("database", "app"),))
DUMPS_OK = ("backupbot_jobs_total", (("kind", "dump"), ("outcome", "succeeded")))
DUMP_COUNT = ("backupbot_job_duration_seconds_count", (("kind", "dump"),))


def test_metrics_parse_and_move_after_a_dump(bot_env: dict[str, Any], fake_slack: FakeSlack) -> None:
    # a backup taken by a deploy pipeline: only the bucket knows it
    piped = subprocess.run(
        [sys.executable, "-m", "cli", "dump", "--database", "app", "--kind", "pre-migration", "--json"],
        cwd=ROOT,
        env=bot_env["env"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert piped.returncode == 0, piped.stderr
    first_id = re.search(r'"id": "(app-(\d{8}T\d{6}Z)-pre-migration-[0-9a-z]{4})"', piped.stdout)
    assert first_id, piped.stdout
    bot = Bot(bot_env["dir"], bot_env["env"]).start()
    try:
        health = requests.get(f"http://127.0.0.1:{bot.port}/healthz", timeout=5)
        assert health.status_code == 200
        assert health.json() == {"ok": True, "runner": "alive", "scheduler": "alive", "store": "ok"}

        before = wait_for(bot, lambda s: NEWEST in s, "the bucket's newest backup")
        assert time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(before[NEWEST])) == first_id.group(2)
        assert before[SIZE] > 0
        assert before.get(DUMPS_OK, 0) == 0 and before[DUMP_COUNT] == 0
        assert before[("backupbot_pending_approvals", ())] == 0
        assert before[("backupbot_frozen", (("database", "app"),))] == 0
        assert before[("backupbot_scheduler_last_tick_timestamp_seconds", ())] > time.time() - 120
        assert ("backupbot_alerts_sent_total", ()) in before

        time.sleep(1.1)  # backup ids have one-second resolution
        assert bot.command("dump app").status_code == 200
        after = wait_for(bot, lambda s: s.get(DUMPS_OK) == 1, "a succeeded dump")
        assert after[NEWEST] > before[NEWEST]
        assert after[DUMP_COUNT] == 1
        assert after[("backupbot_job_duration_seconds_bucket", (("kind", "dump"), ("le", "+Inf")))] == 1
        assert after[("backupbot_job_duration_seconds_sum", (("kind", "dump"),))] > 0
    finally:
        bot.stop()


def test_healthz_says_what_is_off(bot_env: dict[str, Any]) -> None:
    env = {**bot_env["env"], "BACKUPBOT_SCHEDULER": "off", "BACKUPBOT_RUNNER": "off"}
    bot = Bot(bot_env["dir"], env).start()
    try:
        body = requests.get(f"http://127.0.0.1:{bot.port}/healthz", timeout=5).json()
        assert body == {"ok": True, "runner": "off", "scheduler": "off", "store": "ok"}
    finally:
        bot.stop()


def test_health_fails_when_a_thread_died_and_alerts_are_counted(tmp_path: Any) -> None:
    from bot.metrics import ALERTS_SENT_KEY, health
    from jobs import schedule_runs
    from jobs.alerts import announce
    from jobs.events import Alert, NullReporter
    from jobs.store import Store

    store = Store(tmp_path / "bb.sqlite3")
    ok, report = health(store, {"runner": lambda: True, "scheduler": lambda: False})
    assert not ok and report == {"ok": False, "runner": "alive", "scheduler": "dead", "store": "ok"}
    schedule_runs.ensure_schema(store)
    for key in ("a", "b", "a"):  # the second "a" is the same episode: not sent again
        announce(store, NullReporter(), key, Alert("x"), lambda k=key: store.kv_claim("claim:" + k))
    assert store.kv_get(ALERTS_SENT_KEY) == 2
    store.close()
