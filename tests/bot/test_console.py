"""The local console: `python -m bot` without Slack tokens, driven through stdin, read from stdout."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.bot.conftest import ROOT


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
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "BACKUPBOT_", "PYTEST_"))}
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
    done = re.search(r"\[job 1\] done: Backup `(app-\d{8}T\d{6}Z-manual)` stored", out)
    assert done, out
    assert "<@" not in out and ":white_check_mark:" not in out  # Slack markup is turned into text
    stored = list((tmp_path / "state" / "store").rglob(f"{done.group(1)}*"))
    assert len(stored) == 2  # the encrypted dump and its manifest, in the local folder

    out = console(tmp_path, env, "list\nstatus 1\n")
    assert done.group(1) in out and "console try" in out
    assert "requested by" not in out or "@U42" in out
