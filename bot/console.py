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

from bot.render import noun, status_label, step_label
from bot.restore_render import console_awaiting, console_ended, console_queued
from bot.services import Services
from commands.grammar import dispatch
from core.config import state_dir_origin
from core.errors import BackupbotError
from core.i18n import N_, _, ngettext
from core.slack_text import unescape
from jobs import people
from jobs.events import CONSOLE_CHANNEL, Alert, Outcome, ProgressUpdate, StepResult
from jobs.status import ACTIVE
from jobs.store import Job

PROMPT = "backup> "
CHANNEL = CONSOLE_CHANNEL
HELP = N_(
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
    """Prints job events as lines; progress at most every ``interval`` seconds per job.

    A job's lines come out in the order of its life, whatever order the threads call in:
    a job (an approved restore, a new dump) is queued in the store before the thread that
    queued it calls ``queued``, so the runner may start it first. ``started`` therefore
    prints the queued line (for a restore, with the approval that completed it) when it
    was not printed yet, under the same lock, and the late ``queued`` call prints nothing.
    """

    def __init__(
        self, out: IO[str], interval: float, names: Callable[[], dict[str, str]] | None = None
    ) -> None:
        self.out = out
        self.interval = interval
        self.names = names or dict
        self._last: dict[int, float] = {}
        self._queued_said: set[int] = set()  # jobs whose queued line is printed (one int a job)
        self._lock = threading.Lock()

    def _write(self, job: Job | None, text: str) -> None:
        """Print ``text``; the caller holds ``_lock``."""
        prefix = _("[job {id}] ").format(id=job.id) if job else ""
        for line in plain(text, self.names()).splitlines() or [""]:
            self.out.write(f"{prefix}{line}\n")
        self.out.flush()

    def _say(self, job: Job | None, text: str) -> None:
        with self._lock:
            self._write(job, text)

    def _queued_line(self, job: Job) -> str:
        if job.kind == "restore":
            return console_queued(job)
        if job.database:
            return _("queued: {what} of {db}").format(what=noun(job), db=job.database)
        return _("queued: {what}").format(what=noun(job))

    def awaiting_approval(self, job: Job) -> None:
        self._say(job, console_awaiting(job))

    def queued(self, job: Job) -> None:
        with self._lock:
            if job.id in self._queued_said:
                return  # the runner started it first; ``started`` printed this already
            self._queued_said.add(job.id)
            self._write(job, self._queued_line(job))

    def started(self, job: Job) -> None:
        with self._lock:
            if job.id not in self._queued_said:
                # picked up by the runner before the ``queued`` call of whoever queued it
                self._queued_said.add(job.id)
                self._write(job, self._queued_line(job))
            self._write(job, _("running"))

    def progress(self, job: Job, update: ProgressUpdate) -> None:
        now = time.monotonic()
        if now - self._last.get(job.id, 0.0) >= self.interval:
            self._last[job.id] = now
            self._say(job, update.text)

    def step(self, job: Job, step: StepResult) -> None:
        if step.status != "running":
            took = f" ({step.duration:.1f} s)" if step.duration is not None else ""
            self._say(job, f"{step_label(step.status)}: {step.name}{took} {step.detail}".rstrip())

    def finished(self, job: Job, outcome: Outcome) -> None:
        self._forget(job)
        lines = [_("done: {summary}").format(summary=outcome.summary)]
        lines += [f"  {k}: {v}" for k, v in outcome.fields]
        self._say(job, "\n".join(lines))

    def failed(self, job: Job, error: BackupbotError) -> None:
        self._forget(job)
        ended = console_ended(job, error) if job.kind == "restore" else None
        self._say(job, ended or f"{status_label(job.status)}: " + error.render())

    def _forget(self, job: Job) -> None:
        with self._lock:
            self._last.pop(job.id, None)

    def alert(self, alert: Alert) -> None:
        detail = f": {alert.error.get('message')}" if alert.error else ""
        line = _("ALERT [{severity}] {title}{detail}").format(
            severity=alert.severity, title=alert.title, detail=detail
        )
        self._say(None, line)


def run_console(services: Services, user: str, stdin: IO[str], stdout: IO[str], interactive: bool) -> int:
    say_lock = threading.Lock()

    def say(text: str) -> None:
        with say_lock:
            stdout.write(plain(text, people.names(services.store)) + "\n")
            stdout.flush()

    say(_("backupbot console — config: {path}; you are {user}.").format(path=services.cfg.path, user=user))
    say(
        _("State (jobs, approvals): {path} ({origin}).").format(
            path=services.cfg.state_dir, origin=state_dir_origin(services.cfg)
        )
    )
    say(_(HELP))
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
                say(_("You are now {user}.").format(user=user))
            else:
                say(_("Usage: /as USER"))
            continue
        if text.startswith("/backup"):
            text = text[len("/backup") :]
        elif text.startswith("/"):
            say(_("Unknown console command {command}.").format(command=text.split()[0]) + " " + _(HELP))
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
            n = len(pending)
            say(  # type: ignore[operator]
                ngettext(
                    "Waiting for {n} job to finish (Ctrl-C to leave now)…",
                    "Waiting for {n} jobs to finish (Ctrl-C to leave now)…",
                    n,
                ).format(n=n)
            )
            announced = True
        time.sleep(0.2)
