"""``./scripts/run`` installs only when pyproject.toml changed since the last install."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_run_installs_only_when_pyproject_changed(tmp_path: Path) -> None:
    """A copy of the scripts with a stand-in .venv/bin/python that records how it was called."""
    (tmp_path / "scripts").mkdir()
    for name in ("run", "bootstrap"):
        shutil.copy2(ROOT / "scripts" / name, tmp_path / "scripts" / name)
    shutil.copy2(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    calls = tmp_path / "calls.log"
    fake = tmp_path / ".venv" / "bin" / "python"
    fake.parent.mkdir(parents=True)
    fake.write_text(f'#!/bin/sh\necho "$*" >> {calls}\n')
    fake.chmod(0o755)
    # No package index at all: pip must not be needed for a restart.
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_INDEX_URL": "http://127.0.0.1:9/"}

    def run() -> list[str]:
        calls.write_text("")
        subprocess.run([str(tmp_path / "scripts" / "run"), "--console"], env=env, check=True, timeout=60)
        return calls.read_text().splitlines()

    first = run()  # no stamp yet: installs, then starts the bot
    assert any("-m pip install" in c and "-e .[test]" in c for c in first) and first[-1] == "-m bot --console"
    assert run() == ["-m bot --console"]  # unchanged: straight to the bot
    with open(tmp_path / "pyproject.toml", "a") as fh:
        fh.write("\n# a dependency changed\n")
    assert any("-m pip install" in c for c in run())
    assert run() == ["-m bot --console"]
