"""The local console (no Slack) drives Neon the same way: a branch, then the list."""

from __future__ import annotations

import os
import re
from pathlib import Path

from tests.bot.conftest import ROOT
from tests.bot.test_console import console
from tests.neon.conftest import KEY, neon_config_text
from tests.support.fake_neon import FakeNeon


def test_console_branch_and_list(tmp_path: Path, fake_neon: FakeNeon) -> None:
    (tmp_path / "backupbot.toml").write_text(
        neon_config_text(f'url = "{(tmp_path / "store").as_uri()}"', tmp_path)
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "BACKUPBOT_", "PYTEST_"))}
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "BACKUPBOT_CONFIG": str(tmp_path / "backupbot.toml"),
            "BACKUPBOT_STATE_DIR": str(tmp_path / "state"),
            "NEON_API_URL": fake_neon.url,
            "NEON_API_KEY": KEY,
        }
    )
    out = console(tmp_path, env, '/backup branch --reason "console try"\n', "--as", "U1")
    done = re.search(r"done: Neon backup branch `(backup-\d{8})` is ready", out)
    assert done, out
    out = console(tmp_path, env, "/backup branches\n", "--as", "U1")
    assert done.group(1) in out and "console try" in out and "@U1" in out
