"""The local console: `python -m bot` without Slack tokens, driven through stdin, read from stdout."""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from jobs.status import JobStatus
from jobs.store import DB_FILE, Job, Store
from tests.bot.conftest import ROOT
from tests.support import pg


def console(tmp_path: Path, env: dict[str, str], script: str, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,
        env=env,
        input=script,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_console_dumps_to_the_local_folder_and_lists(
    tmp_path: Path, realistic_db: str, backup_key: str
) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "BACKUPBOT_", "PYTEST_")) or k == "BACKUPBOT_STATE_URL"
    }
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "DATABASE_URL": realistic_db,
            "BACKUPBOT_KEY": backup_key,
            "BACKUPBOT_STATE_DIR": str(tmp_path / "state"),
        }
    )
    out = console(
        tmp_path,
        env,
        '/backup help\n/backup dupm\n/as U42\n/backup dump --reason "console try"\n',
        "--as",
        "U1",
    )
    assert "config: <embedded default>; you are U1." in out
    assert "/backup dump [DB] [--reason TEXT]" in out
    assert "unknown command 'dupm'" in out and "Did you mean" in out
    assert "You are now U42." in out
    assert "Queued a backup of `app` as job 1." in out
    done = re.search(r"\[job 1\] done: Backup `(app-\d{8}T\d{6}Z-manual-[0-9a-z]{4})` stored", out)
    assert done, out
    assert "<@" not in out and ":white_check_mark:" not in out  # Slack markup is turned into text
    stored = list((tmp_path / "state" / "store").rglob(f"{done.group(1)}*"))
    assert len(stored) == 2  # the encrypted dump and its manifest, in the local folder

    out = console(tmp_path, env, "list\nstatus 1\n")
    assert done.group(1) in out and "console try" in out
    assert "requested by" not in out or "@U42" in out


RESTORE_CONFIG = """
[storage]
url = "{store}"

[databases.app]
dump_url_env = "APP_URL"
restore_url_env = "APP_URL"
migrate = []

[databases.staging]
dump_url_env = "STAGING_URL"
restore_url_env = "STAGING_URL"
approvers = ["U0LEAD1", "U0LEAD2"]
approvals_required = 2
migrate = []

[databases.scratch]
dump_url_env = "STAGING_URL"
restore_url_env = "STAGING_URL"
approvers = ["U0LEAD1"]
migrate = []
"""


@dataclass
class RestoreConsole:
    tmp: Path
    env: dict[str, str]
    backup_id: str

    def run(self, script: str, user: str = "U0DEV") -> list[str]:
        return console(self.tmp, self.env, script, "--as", user).splitlines()

    def job(self, job_id: int) -> Job:
        store = Store(self.tmp / "state" / DB_FILE)
        try:
            return store.get_job(job_id)
        finally:
            store.close()


@pytest.fixture
def restore_console(tmp_path: Path, realistic_db: str, backup_key: str) -> Iterator[RestoreConsole]:
    """A console whose `app` has one backup, and two targets: `staging` needs two leads, `scratch` one."""
    with pg.temp_database("bbtgt") as target:
        pg.fill_realistic(target, customers=20, invoices_per_customer=1)
        config = tmp_path / "backupbot.toml"
        config.write_text(RESTORE_CONFIG.format(store=(tmp_path / "store").as_uri()))
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("SLACK_", "BACKUPBOT_", "PYTEST_")) or k == "BACKUPBOT_STATE_URL"
        }
        env.update(
            {
                "PYTHONPATH": str(ROOT),
                "APP_URL": realistic_db,
                "STAGING_URL": target,
                "BACKUPBOT_KEY": backup_key,
                "BACKUPBOT_CONFIG": str(config),
                "BACKUPBOT_STATE_DIR": str(tmp_path / "state"),
            }
        )
        out = console(tmp_path, env, "/backup dump app\n", "--as", "U0DEV")
        done = re.search(r"\[job 1\] done: Backup `(app-\d{8}T\d{6}Z-manual-[0-9a-z]{4})` stored", out)
        assert done, out
        yield RestoreConsole(tmp_path, env, done.group(1))


def test_console_restore_says_awaiting_approval_then_who_approved_then_queued(
    restore_console: RestoreConsole,
) -> None:
    rc = restore_console
    lines = rc.run(
        '/backup restore latest app --target staging --reason "console drill"\n'
        "/as U0LEAD1\n/backup approve 2\n/as U0LEAD2\n/backup approve 2\n"
    )
    bid, expires = rc.backup_id, rc.job(2).params["expires_at_text"]
    summary = [line for line in lines if line.startswith("[job 2]   ")]
    assert any(line.startswith("[job 2]   Will overwrite: ") for line in summary), lines
    assert "[job 2]   Reason: console drill" in summary
    shown = [line for line in lines[4:] if line not in summary]  # after the banner, the state line and HELP
    queued = f"[job 2] queued: restore of `{bid}` into `staging`"
    assert shown[: shown.index(queued) + 1] == [
        "Checking the backup and `staging` before asking for approval…",
        f"[job 2] awaiting approval: restore of `{bid}` into `staging`, asked by @U0DEV. "
        "Nothing runs until 2 leads of `staging` approve.",
        "[job 2] Approve: switch to a lead (`/as USER`), then `/backup approve 2`; the requester cannot. "
        f"Deny or withdraw: `/backup deny 2`. Expires at {expires}.",
        f"Restore request 2 posted: {bid} into `staging`. @U0LEAD1, @U0LEAD2 can approve it within 30 min.",
        "You are now U0LEAD1.",
        "[job 2] approved by @U0LEAD1 (1 of 2 approvals); "
        f"1 more lead of `staging` must approve before it runs (expires at {expires}).",
        "Approval recorded (1 of 2); another lead has to approve too.",
        "You are now U0LEAD2.",
        "[job 2] approved by @U0LEAD2 (2 of 2 approvals)",
        queued,
    ]
    # From here the runner and the console print side by side; only the order within job 2 is fixed.
    rest = shown[shown.index(queued) + 1 :]
    assert "Approved restore request 2; it starts now." in rest
    job_lines = [line for line in rest if line.startswith("[job 2] ")]
    assert job_lines[0] == "[job 2] running", rest
    assert f"[job 2] done: Restored `{bid}` into `staging`: restored and back in service" in job_lines
    assert [line for line in lines if "queued" in line] == [queued]  # never while it waited for leads
    assert _ran(lines) == [queued, "[job 2] running"]


def test_console_restore_denied_withdrawn_and_expired_say_so(restore_console: RestoreConsole) -> None:
    rc = restore_console
    lines = rc.run(
        "restore latest app --target staging\n/as U0LEAD2\ndeny 2\n"
        "/as U0DEV\nrestore latest app --target scratch\ndeny 3\n"
        "restore latest app --target scratch\n"
    )
    assert "[job 2] denied by @U0LEAD2. Nothing was changed on 'staging'." in lines
    assert "Restore request 2 denied; nothing was changed." in lines
    assert (
        "[job 3] awaiting approval: restore of "
        f"`{rc.backup_id}` into `scratch`, asked by @U0DEV. Nothing runs until a lead of `scratch` approves."
    ) in lines
    assert "[job 3] withdrawn by @U0DEV. Nothing was changed on 'scratch'." in lines
    assert _ran(lines) == [], lines
    assert rc.job(4).status == JobStatus.AWAITING_APPROVAL

    # The console was closed past the deadline: the next one expires the request on start.
    store = Store(rc.tmp / "state" / DB_FILE)
    job = store.get_job(4)
    store.update_job(4, params={**job.params, "expires_at": time.time() - 1})
    store.close()
    out = _until(rc, "[job 4] expired.", then="/as U0LEAD1\n/backup approve 4\n")
    assert "[job 4] expired. Nobody approved it within 30 min; nothing was changed on 'scratch'." in out
    assert f"[job 4] Next: Ask again: `/backup restore {rc.backup_id} --target scratch`." in out
    assert "Restore request 4 is already expired; nothing changed." in out
    assert _ran(out) == [], out


def _until(rc: RestoreConsole, wanted: str, then: str) -> list[str]:
    """A console left open until a line starts with ``wanted`` (printed by a background sweep), then ``then`` typed."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "--as", "U0DEV"],
        cwd=rc.tmp,
        env=rc.env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    out = proc.stdout
    seen: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        for line in out:
            seen.put(line.rstrip("\n"))
        seen.put(None)

    threading.Thread(target=read, daemon=True).start()
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while not any(line.startswith(wanted) for line in lines):
            line = seen.get(timeout=max(0.1, deadline - time.monotonic()))
            assert line is not None, f"the console ended without {wanted!r}:\n" + "\n".join(lines)
            lines.append(line)
        proc.stdin.write(then)
        proc.stdin.close()
        while (line := seen.get(timeout=60)) is not None:
            lines.append(line)
        assert proc.wait(timeout=60) == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return lines


def _ran(lines: list[str]) -> list[str]:
    """Lines that would tell someone a restore is queued or running."""
    return [
        line for line in lines if line.startswith("[job ") and ("] queued" in line or "] running" in line)
    ]


def test_an_approved_restore_the_runner_starts_first_still_prints_approved_queued_running(
    tmp_path: Path,
) -> None:
    """The approving console calls ``queued`` after the transaction that queued the job, so the
    runner may call ``started`` first: the lines still come in the order of the job's life."""
    import io

    from bot.console import ConsoleReporter

    store = Store(tmp_path / DB_FILE)
    params = {
        "backup_id": "app-20261205T000000Z-manual-1abc",
        "approvals_required": 2,
        "approved_by": ["U0LEAD1", "U0LEAD2"],
        "decisions": [
            {"user": "U0LEAD1", "decision": "approve", "at": "2026-12-05T00:00:01Z"},
            {"user": "U0LEAD2", "decision": "approve", "at": "2026-12-05T00:00:02Z"},
        ],
    }
    job = store.create_job("restore", "staging", params, requested_by="U0DEV", channel="console")
    store.close()
    out = io.StringIO()
    reporter = ConsoleReporter(out, interval=0.0)
    reporter.started(job)  # the runner won the race
    reporter.queued(job)  # the approver's call, late
    assert out.getvalue().splitlines() == [
        f"[job {job.id}] approved by @U0LEAD2 (2 of 2 approvals)",
        f"[job {job.id}] queued: restore of `app-20261205T000000Z-manual-1abc` into `staging`",
        f"[job {job.id}] running",
    ]
