"""An in-process bot for schedule tests: store, Slack reporter → fake Slack, runner, a settable clock."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from bot.reporting import SlackReporter
from bot.slack_client import make_client
from core.config import Config, load_config
from jobs.runner import Runner
from jobs.store import Job, Store
from tests.conftest import ConfigWriter
from tests.support.fake_slack import FakeSlack
from tests.support.s3server import S3Server

ALERTS = "CALERT"
JOBS = "CJOBS"


class SimClock:
    """The scheduler's clock; tests set it, nothing sleeps."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Heartbeat:
    url: str
    hits: list[str]


@pytest.fixture
def heartbeat() -> Iterator[Heartbeat]:
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"OK")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield Heartbeat(f"http://127.0.0.1:{server.server_address[1]}/ping/secret-check-id", hits)
    server.shutdown()
    server.server_close()


@pytest.fixture
def fake_slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSlack]:
    fake = FakeSlack(group_members={"S0LEADS": ["ULEAD"]})
    monkeypatch.setenv("SLACK_API_URL", fake.api_url)
    yield fake
    fake.stop()


@pytest.fixture
def make_cfg(s3_server: S3Server, s3_bucket: str, write_config: ConfigWriter, tmp_path: Path):  # type: ignore[no-untyped-def]
    def make(
        db_url: str,
        schedule: str = "0 3 * * *",
        extra: str = "",
        heartbeat_url: str = "",
        local_storage: bool = False,
    ) -> Config:
        if local_storage:  # the file:// adapter: same code above it, a tenth of the cost per backup
            path: Path = write_config(f"file://{tmp_path}/bucket", {"prod": db_url})
        else:
            path = write_config(f"s3://{s3_bucket}/bb", {"prod": db_url}, endpoint_url=s3_server.endpoint_url)
        text = path.read_text().replace(
            'restore_url_env = "PROD_RESTORE_URL"\n',
            f'restore_url_env = "PROD_RESTORE_URL"\nschedule = "{schedule}"\napprover_group = "S0LEADS"\n',
        )
        text += f'\n[slack]\nchannel = "{JOBS}"\nalert_channel = "{ALERTS}"\noncall_group = "S0ONCALL"\n'
        text += f'\n[alerts]\nheartbeat_url = "{heartbeat_url}"\n' + extra
        path.write_text(text)
        return load_config(str(path))

    return make


@dataclass
class Bot:
    cfg: Config
    store: Store
    reporter: SlackReporter
    runner: Runner | None

    def wait_job(self, job: Job, timeout: float = 60) -> Job:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            current = self.store.get_job(job.id)
            if current.status.terminal:
                return current
            time.sleep(0.02)
        raise AssertionError(f"{job.title} did not finish within {timeout} s")

    def flush(self) -> None:
        assert self.reporter.outbox.flush(30)


@pytest.fixture
def make_bot(fake_slack: FakeSlack) -> Iterator[Any]:
    made: list[Bot] = []

    def make(cfg: Config, run_jobs: bool = True, clock: SimClock | None = None) -> Bot:
        store = Store.for_config(cfg)
        reporter = SlackReporter(cfg, store, make_client("xoxb-test-token"))
        runner = Runner(cfg, store, reporter, poll_interval=0.05, clock=clock).start() if run_jobs else None
        bot = Bot(cfg, store, reporter, runner)
        made.append(bot)
        return bot

    yield make
    for bot in made:
        if bot.runner:
            bot.runner.stop(timeout=10)
        bot.reporter.outbox.close(5)
        bot.store.close()
