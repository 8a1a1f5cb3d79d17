"""Several "machines" sharing nothing but BACKUPBOT_STATE_URL: each process has its own
empty working directory and its own state directory, as a web dyno and worker dynos do."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tests.bot.conftest import BOT_TOKEN, SECRET
from tests.support.fake_slack import FakeSlack
from tests.support.s3server import free_port
from tests.support.slack_signing import command_body, post_signed


def write_config(path: Path, bucket: str, endpoint: str, databases: list[str], extra: str = "") -> Path:
    dbs = "".join(f'\n[databases.{name}]\ndump_url_env = "APP_URL"\n' for name in databases)
    path.write_text(
        textwrap.dedent(
            f"""
            [storage]
            url = "s3://{bucket}/bb"
            endpoint_url = "{endpoint}"
            region = "us-east-1"
            part_size_mb = 5

            [slack]
            channel = "C1"
            allowed_users = ["U1", "U2"]

            [runner]
            progress_interval_seconds = 0.5
            """
        )
        + dbs
        + extra
    )
    return path


@dataclass
class Machine:
    """One process (``python -m bot`` or ``python -m jobs``) on a machine of its own."""

    name: str
    root: Path
    argv: list[str]
    env: dict[str, str]
    web: bool = False
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def workdir(self) -> Path:
        return self.root / self.name

    @property
    def log(self) -> Path:
        return self.root / f"{self.name}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/slack/events"

    def start(self) -> Machine:
        self.workdir.mkdir(parents=True, exist_ok=False)  # fresh and empty, every time
        env = {**self.env, **self.extra_env, "BACKUPBOT_STATE_DIR": str(self.workdir / "state")}
        if self.web:
            self.port = free_port()
            env.update({"PORT": str(self.port), "HOST": "127.0.0.1"})
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", *self.argv],
                cwd=self.workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        if self.web:
            deadline = time.monotonic() + 60
            while True:
                assert self.proc.poll() is None, self.log.read_text()
                assert time.monotonic() < deadline, self.log.read_text()
                try:
                    if requests.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).ok:
                        break
                except requests.ConnectionError:
                    time.sleep(0.1)
        return self

    def command(self, text: str, user: str = "U1", response_url: str = "") -> requests.Response:
        return post_signed(self.url, SECRET, command_body(text, user, "C1", response_url))

    def kill(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=10)


def base_env(config: Path, state_url: str, key: str, fake: FakeSlack, app_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "SLACK_", "BACKUPBOT_"))}
    env.update(
        {
            "BACKUPBOT_CONFIG": str(config),
            "BACKUPBOT_STATE_URL": state_url,
            "BACKUPBOT_KEY": key,
            "BACKUPBOT_SCHEDULER": "off",
            "APP_URL": app_url,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": fake.api_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "LOG_LEVEL": "INFO",
        }
    )
    return env


@contextmanager
def running(*machines: Machine) -> Iterator[tuple[Machine, ...]]:
    try:
        for m in machines:
            m.start()
        yield machines
    finally:
        for m in machines:
            m.stop()


def web(root: Path, name: str, env: dict[str, str], **extra: str) -> Machine:
    return Machine(name, root, ["bot"], env, web=True, extra_env={"BACKUPBOT_RUNNER": "off", **extra})


def worker(root: Path, name: str, env: dict[str, str], **extra: str) -> Machine:
    return Machine(name, root, ["jobs"], env, extra_env=extra)
