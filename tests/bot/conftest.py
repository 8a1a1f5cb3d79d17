"""The bot as a real process against fake Slack, the local S3 server and real PostgreSQL."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from jobs.store import DB_FILE, Store
from tests.support.fake_slack import FakeSlack
from tests.support.s3server import S3Server, free_port
from tests.support.slack_signing import command_body, post_signed

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT_TOKEN = "xoxb-1111-2222-fake"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    fake = FakeSlack(group_members={"S1": ["U7"]})
    yield fake
    fake.stop()


def fill_incompressible(url: str, megabytes: int) -> None:
    """Random bytea, so the stored object is big enough for a multipart upload."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE blobs (id int PRIMARY KEY, data bytea NOT NULL)")
        conn.execute(
            "INSERT INTO blobs SELECT r, (SELECT string_agg(decode(md5(random()::text || r || g), 'hex'), '') "
            "FROM generate_series(1, 8192) g) FROM generate_series(1, %s) r",
            (megabytes * 8,),
        )


class Bot:
    """``python -m bot`` in its own process group, serving HTTP on a free port."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.workdir = workdir
        self.env = env
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/slack/events"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = workdir / "bot.log"

    def start(self) -> Bot:
        env = {**self.env, "PORT": str(self.port), "HOST": "127.0.0.1"}
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot"],
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"bot exited {self.proc.returncode}:\n{self.log.read_text()}")
            try:
                if requests.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).ok:
                    return self
            except requests.ConnectionError:
                time.sleep(0.05)
        raise AssertionError(f"bot did not start:\n{self.log.read_text()}")

    def command(
        self, text: str, user: str = "U1", channel: str = "C1", response_url: str = "", **kw: Any
    ) -> requests.Response:
        return post_signed(self.url, SECRET, command_body(text, user, channel, response_url), **kw)

    def kill(self) -> None:
        """SIGKILL the bot and everything it started (pg_dump), as a crash or OOM would."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        try:
            os.killpg(self.proc.pid, signal.SIGKILL) if self.proc else None
        except ProcessLookupError:
            pass

    def store(self) -> Store:
        return Store(Path(self.env["BACKUPBOT_STATE_DIR"]) / DB_FILE)


@pytest.fixture
def bot_env(
    tmp_path: Path, s3_server: S3Server, realistic_db: str, backup_key: str, fake_slack: FakeSlack
) -> dict[str, Any]:
    """Config and environment for a bot with one database 'app' on S3, reporting to fake Slack."""
    bucket = s3_server.new_bucket()
    config = tmp_path / "backupbot.toml"
    config.write_text(
        textwrap.dedent(
            f"""
            [storage]
            url = "s3://{bucket}/bb"
            endpoint_url = "{s3_server.endpoint_url}"
            region = "us-east-1"
            part_size_mb = 5

            [slack]
            channel = "C1"
            allowed_users = ["U1", "U2"]
            allowed_group = "S1"

            [runner]
            progress_interval_seconds = 0.2

            [databases.app]
            dump_url_env = "APP_DUMP_URL"
            """
        )
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if (not k.startswith(("PYTEST_", "SLACK_", "BACKUPBOT_")) or k == "BACKUPBOT_STATE_URL")
        and k != "COV_CORE_SOURCE"
    }
    env.update(
        {
            "BACKUPBOT_CONFIG": str(config),
            "BACKUPBOT_STATE_DIR": str(tmp_path / "state"),
            "BACKUPBOT_KEY": backup_key,
            "APP_DUMP_URL": realistic_db,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": fake_slack.api_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "LOG_LEVEL": "INFO",
        }
    )
    return {"env": env, "bucket": bucket, "db": realistic_db, "dir": tmp_path, "s3": s3_server}


@pytest.fixture
def bot(bot_env: dict[str, Any]) -> Iterator[Bot]:
    b = Bot(bot_env["dir"], bot_env["env"]).start()
    yield b
    b.stop()


@pytest.fixture
def slow_pg_dump(tmp_path: Path) -> dict[str, str]:
    """A pg_dump on PATH that passes the real output through, then hangs before exiting."""
    real = shutil.which("pg_dump")
    assert real, "pg_dump must be installed"
    bindir = tmp_path / "slowbin"
    bindir.mkdir()
    marker = tmp_path / "stalled"
    script = bindir / "pg_dump"
    script.write_text(
        textwrap.dedent(
            f"""\
            #!{sys.executable}
            import os, subprocess, sys, time
            real = {real!r}
            if "--version" in sys.argv or "-V" in sys.argv:
                os.execv(real, [real] + sys.argv[1:])
            p = subprocess.Popen([real] + sys.argv[1:], stdout=subprocess.PIPE)
            out = sys.stdout.buffer
            while True:
                chunk = p.stdout.read(65536)
                if not chunk:
                    break
                out.write(chunk)
                out.flush()
            p.wait()
            open({str(marker)!r}, "w").write("stalled")
            time.sleep(600)
            sys.exit(p.returncode)
            """
        )
    )
    script.chmod(0o755)
    return {"PATH": f"{bindir}:{os.environ['PATH']}", "marker": str(marker)}
