"""The local console: `/backup …` typed at a prompt, answered as text, without Slack.

Same grammar, same handlers, same runner and SQLite store as the Slack app; only the
surface differs. ``/as USER`` switches who is typing (to try allowlists and approvals).
When input ends (a pipe, Ctrl-D) it waits for queued and running jobs, so
``echo '/backup dump' | python -m bot`` takes a backup and exits.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import IO

from bot.restore_render import console_awaiting, console_ended, console_queued
from bot.services import Services
from commands.grammar import dispatch
from core.errors import BackupbotError
from core.slack_text import unescape
from jobs import people
from jobs.events import CONSOLE_CHANNEL, Alert, Outcome, ProgressUpdate, StepResult
from jobs.status import ACTIVE
from jobs.store import Job

PROMPT = "backup> "
CHANNEL = CONSOLE_CHANNEL
HELP = (
    "Type `/backup help` for commands (the `/backup` prefix is optional).\n"
    "`/as USER` switches who is typing; `/quit` or Ctrl-D leaves (after running jobs end)."
)

_EMOJI = {
    ":white_check_mark:": "[ok]",
    ":x:": "[x]",
    ":warning:": "[!]",
    ":hourglass_flowing_sand:": "[..]",
    ":arrows_counterclockwise:": "[>>]",
    ":no_entry_sign:": "[-]",
    ":alarm_clock:": "[t]",
    ":raised_hand:": "[?]",
    ":rotating_light:": "[!!]",
    ":large_green_circle:": "[ok]",
    ":information_source:": "[i]",
    ":fast_forward:": "[>]",
}


def plain(text: str, names: dict[str, str] | None = None) -> str:
    """Slack mrkdwn → terminal text; mentions of people whose names are known become their names."""
    from jobs.people import plain_mentions

    text = plain_mentions(text, names or {})
    for code, sub in _EMOJI.items():
        text = text.replace(code, sub)
    text = re.sub(r"<!subteam\^([A-Z0-9]+)>", r"@\1", text)
    text = re.sub(r"<[@#]([A-Z0-9]+)>", r"@\1", text)
    text = re.sub(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])", r"\1", text)
    return unescape(text)  # what Slack would show: the text as typed


class ConsoleReporter:
    """Prints job events as lines; progress at most every ``interval`` seconds per job."""

    def __init__(self, out: IO[str], interval: float, names: Callable[[], dict[str, str]] | None = None) -> None:
        self.out = out
        self.interval = interval
        self.names = names or dict
        self._last: dict[int, float] = {}
        self._lock = threading.Lock()

    def _say(self, job: Job | None, text: str) -> None:
        prefix = f"[job {job.id}] " if job else ""
        with self._lock:
            for line in plain(text, self.names()).splitlines() or [""]:
                self.out.write(f"{prefix}{line}\n")
            self.out.flush()

    def awaiting_approval(self, job: Job) -> None:
        self._say(job, console_awaiting(job))

    def queued(self, job: Job) -> None:
        if job.kind == "restore":
            self._say(job, console_queued(job))
        else:
            self._say(job, f"queued: {job.kind} {job.database or ''}".rstrip())

    def started(self, job: Job) -> None:
        self._say(job, "running")

    def progress(self, job: Job, update: ProgressUpdate) -> None:
        now = time.monotonic()
        if now - self._last.get(job.id, 0.0) >= self.interval:
            self._last[job.id] = now
            self._say(job, update.text)

    def step(self, job: Job, step: StepResult) -> None:
        if step.status != "running":
            took = f" ({step.duration:.1f} s)" if step.duration is not None else ""
            self._say(job, f"{step.status}: {step.name}{took} {step.detail}".rstrip())

    def finished(self, job: Job, outcome: Outcome) -> None:
        lines = [f"done: {outcome.summary}"] + [f"  {k}: {v}" for k, v in outcome.fields]
        self._say(job, "\n".join(lines))

    def failed(self, job: Job, error: BackupbotError) -> None:
        ended = console_ended(job, error) if job.kind == "restore" else None
        self._say(job, ended or f"{job.status.label}: " + error.render())

    def alert(self, alert: Alert) -> None:
        detail = f": {alert.error.get('message')}" if alert.error else ""
        self._say(None, f"ALERT [{alert.severity}] {alert.title}{detail}")


def run_console(services: Services, user: str, stdin: IO[str], stdout: IO[str], interactive: bool) -> int:
    say_lock = threading.Lock()

    def say(text: str) -> None:
        with say_lock:
            stdout.write(plain(text, people.names(services.store)) + "\n")
            stdout.flush()

    say(f"backupbot console — config: {services.cfg.path}; you are {user}.")
    say(HELP)
    while True:
        if interactive:
            stdout.write(PROMPT)
            stdout.flush()
        line = stdin.readline()
        if not line:
            break
        text = line.strip()
        if not text:
            continue
        if text in ("/quit", "/exit", "quit", "exit"):
            break
        if text.startswith("/as"):
            parts = text.split()
            if len(parts) == 2:
                user = parts[1]
                say(f"You are now {user}.")
            else:
                say("Usage: /as USER")
            continue
        if text.startswith("/backup"):
            text = text[len("/backup") :]
        elif text.startswith("/"):
            say(f"Unknown console command {text.split()[0]}. " + HELP)
            continue
        reply = dispatch(text, services.invocation(user, CHANNEL))
        say(reply.text)
        if reply.later is not None:
            say(reply.later().text)
    _wait_for_jobs(services, say)
    return 0


def _wait_for_jobs(services: Services, say: object) -> None:
    announced = False
    while services.store.count_active():
        pending = services.store.list_jobs(statuses=ACTIVE, limit=5)
        if all(j.status.value == "awaiting_approval" for j in pending):
            return
        if not announced:
            say(f"Waiting for {len(pending)} job(s) to finish (Ctrl-C to leave now)…")  # type: ignore[operator]
            announced = True
        time.sleep(0.2)
