"""The Slack ``Reporter``: one message per job, edited in place, step lines in its thread.

Every call only marks work for the outbox and returns, so a job never waits on Slack.
Progress edits are throttled to one per ``[runner] progress_interval_seconds`` per
job; state changes (started, done, failed) go out at once.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from bot import render
from bot.outbox import Outbox
from bot.slack_client import make_client
from core.config import Config
from core.errors import BackupbotError
from jobs.events import Alert, Outcome, ProgressUpdate, StepResult
from jobs.store import Job, Store


class SlackReporter:
    def __init__(self, cfg: Config, store: Store, client: Any) -> None:
        self.cfg = cfg
        self.interval = cfg.runner.progress_interval_seconds
        self._progress: dict[int, str] = {}
        self._last_edit: dict[int, float] = {}
        self._lock = threading.Lock()
        self.outbox = Outbox(client, store, self._render, default_channel=cfg.slack.channel)

    def _render(self, job: Job) -> tuple[str, list[dict[str, Any]]]:
        with self._lock:
            progress = self._progress.get(job.id, "") or job.progress
        return render.job_text(job, progress), render.job_blocks(job, progress)

    def awaiting_approval(self, job: Job) -> None:
        self.outbox.touch(job.id)  # the message renders the request, decisions and buttons from the row

    def queued(self, job: Job) -> None:
        self.outbox.touch(job.id)

    def started(self, job: Job) -> None:
        with self._lock:
            self._last_edit[job.id] = time.monotonic()
        self.outbox.touch(job.id)

    def progress(self, job: Job, update: ProgressUpdate) -> None:
        now = time.monotonic()
        with self._lock:
            self._progress[job.id] = update.text
            if now - self._last_edit.get(job.id, 0.0) < self.interval:
                return
            self._last_edit[job.id] = now
        self.outbox.touch(job.id)

    def step(self, job: Job, step: StepResult) -> None:
        if step.status != "running":
            self.outbox.thread(job.id, render.step_text(step))

    def finished(self, job: Job, outcome: Outcome) -> None:
        self._done(job)

    def failed(self, job: Job, error: BackupbotError) -> None:
        self._done(job)

    def _done(self, job: Job) -> None:
        with self._lock:
            self._progress.pop(job.id, None)
            self._last_edit.pop(job.id, None)
        self.outbox.touch(job.id)

    def alert(self, alert: Alert) -> None:
        text, blocks = render.alert_payload(alert)
        self.outbox.post(alert.channel or self.cfg.slack.alerts_to, text, blocks)


def reporter_from_env(cfg: Config) -> SlackReporter:
    """For ``python -m jobs --reporter``: a Slack reporter with SLACK_BOT_TOKEN."""
    return SlackReporter(cfg, Store.for_config(cfg), make_client(os.environ["SLACK_BOT_TOKEN"]))
