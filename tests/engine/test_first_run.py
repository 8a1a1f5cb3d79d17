"""A first run that just works: bad config stops every entry point, state has one known home, keys have ids."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from adapters.crypto import key_id
from tests.conftest import ConfigWriter
from tests.engine.conftest import REPO, file_setup, run_cli

BAD = {
    "cron": ('schedule = "0 3 * *"', "schedule '0 3 * *' in [databases.app] is not a cron expression"),
    "timezone": ('timezone = "Mars/Olympus"', "unknown time zone 'Mars/Olympus' in [databases.app]"),
    "zero-timeout": (
        "hook_timeout_seconds = 0",
        "setting 'hook_timeout_seconds' in [databases.app] must be above zero",
    ),
    "negative-count": ("restore_jobs = -1", "setting 'restore_jobs' in [databases.app] must be above zero"),
    "nested-typo": ("[databases.app.retention]\ndayly = 3", "Did you mean 'daily'?"),
    "negative-retention": (
        "[databases.app.retention]\nmonthly = -2",
        "'monthly' in [databases.app].retention is negative",
    ),
    "runner": ("[runner]\nmax_parallel = 0", "setting 'max_parallel' in [runner] must be above zero"),
    "storage": ("[storage.extra]\nx = 1", "unknown setting 'extra' in [storage]"),
}


def entry_points(config: Path) -> list[list[str]]:
    return [
        [sys.executable, "-m", "cli", "--config", str(config), "list"],
        [sys.executable, "-m", "cli", "--config", str(config), "dump"],
        [sys.executable, "-m", "bot", "--config", str(config), "--console"],
        [sys.executable, "-m", "jobs", "--config", str(config)],
    ]


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_config_stops_every_entry_point_before_anything_is_created(
    tmp_path: Path, case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    line, message = BAD[case]
    state = tmp_path / "xdg"
    config = tmp_path / "conf" / "x.toml"
    config.parent.mkdir()
    # [databases.app] is the last table, so a bare line lands in it and a [table] line starts another.
    config.write_text(
        f'[storage]\nurl = "{(tmp_path / "store").as_uri()}"\n\n[databases.app]\ndump_url_env = "APP_URL"\n{line}\n'
    )
    env = {k: v for k, v in os.environ.items() if k not in ("BACKUPBOT_STATE_DIR", "BACKUPBOT_CONFIG")}
    env["XDG_STATE_HOME"] = str(state)
    for argv in entry_points(config):
        proc = subprocess.run(argv, cwd=REPO, env=env, input="", capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2, (argv, proc.stdout, proc.stderr)
        assert message in proc.stderr, (argv, proc.stderr)
        assert "Traceback" not in proc.stderr
    assert not state.exists() and not (tmp_path / "store").exists()
    assert sorted(p.name for p in config.parent.iterdir()) == ["x.toml"]  # no state/ beside the config


def test_state_goes_to_the_per_user_directory_and_is_named(tmp_path: Path, pg_db: str) -> None:
    config = tmp_path / "conf" / "x.toml"
    config.parent.mkdir()
    config.write_text(
        f'[storage]\nurl = "{(tmp_path / "store").as_uri()}"\n\n[databases.app]\ndump_url_env = "APP_URL"\n'
    )
    env = {k: v for k, v in os.environ.items() if k not in ("BACKUPBOT_STATE_DIR", "BACKUPBOT_CONFIG")}
    env |= {"XDG_STATE_HOME": str(tmp_path / "xdg"), "APP_URL": pg_db}
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(config), "--console"],
        cwd=tmp_path,
        env=env,
        input="/quit\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    want = tmp_path / "xdg" / "backupbot"
    assert f"State (jobs, approvals): {want} (the per-user default" in proc.stdout
    assert (want / "backupbot.sqlite3").exists()
    assert sorted(p.name for p in config.parent.iterdir()) == ["x.toml"]
    where = subprocess.run(
        [sys.executable, "-m", "cli", "--config", str(config), "--json", "where"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(where.stdout)["state_dir"] == str(want)
    # Configured in the file (relative to it), and the variable still wins over the file.
    config.write_text('state_dir = "jobstate"\n' + config.read_text())
    where = run_where(config, env)
    assert (
        where["state_dir"] == str(config.parent / "jobstate")
        and "from state_dir in" in where["state_dir_from"]
    )
    where = run_where(config, env | {"BACKUPBOT_STATE_DIR": str(tmp_path / "env-state")})
    assert (
        where["state_dir"] == str(tmp_path / "env-state")
        and where["state_dir_from"] == "from BACKUPBOT_STATE_DIR"
    )


def run_where(config: Path, env: dict[str, str]) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "cli", "--config", str(config), "--json", "where"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(proc.stdout)


def test_keygen_prints_the_key_id_and_key_id_computes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    proc = run_cli("keygen", check=True)
    key = proc.stdout.strip()
    assert len(base64.b64decode(key, validate=True)) == 32 and "\n" not in key  # stdout: the key alone
    kid = key_id(base64.b64decode(key))
    assert f"key id: {kid}" in proc.stderr
    monkeypatch.setenv("BACKUPBOT_KEY", key)
    assert run_cli("key-id", check=True).stdout.split()[:2] == [kid, "BACKUPBOT_KEY"]
    as_json = json.loads(run_cli("--json", "keygen", check=True).stdout)
    assert as_json["key_id"] == key_id(base64.b64decode(as_json["key"]))


def test_missing_key_hint_never_suggests_a_new_key_when_backups_exist(
    tmp_path: Path, write_config: ConfigWriter, pg_db: str, backup_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    file_setup(write_config, tmp_path / "store", pg_db)
    monkeypatch.delenv("BACKUPBOT_KEY")
    first = run_cli("dump")
    assert first.returncode == 2 and "backupbot keygen" in first.stderr  # nothing stored yet: make one
    monkeypatch.setenv("BACKUPBOT_KEY", backup_key)
    made = json.loads(run_cli("--json", "dump", check=True).stdout)
    monkeypatch.delenv("BACKUPBOT_KEY")
    proc = run_cli("dump")
    assert proc.returncode == 2
    assert "keygen" not in proc.stderr, proc.stderr
    assert (
        f"Backups already exist (newest {made['id']}, encrypted with key id {made['encryption']['key_id']})"
        in proc.stderr
    )
    assert "backupbot key-id" in proc.stderr


def test_decrypt_into_a_reader_that_stops_early_says_so(
    tmp_path: Path, write_config: ConfigWriter, bulky_db: str, backup_key: str
) -> None:
    file_setup(write_config, tmp_path / "store", bulky_db)
    made = json.loads(run_cli("--json", "dump", check=True).stdout)
    decrypt = subprocess.Popen(
        [sys.executable, "-m", "cli", "decrypt", made["id"]],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert decrypt.stdout is not None
    listing = subprocess.run(
        ["pg_restore", "--list"], stdin=decrypt.stdout, capture_output=True, text=True, timeout=60
    )
    decrypt.stdout.close()
    _, err = decrypt.communicate(timeout=60)
    assert listing.returncode == 0 and "TABLE DATA public blobs" in listing.stdout
    assert decrypt.returncode == 141
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1 and "the reader closed the pipe" in lines[0] and "exit 141" in lines[0]


def test_cli_requester_identity(
    tmp_path: Path, write_config: ConfigWriter, pg_db: str, backup_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    file_setup(write_config, tmp_path / "store", pg_db)
    monkeypatch.setenv("GITHUB_ACTOR", "deploy-bot")
    made = json.loads(run_cli("--json", "dump", check=True).stdout)
    assert made["requested_by"] == f"cli:deploy-bot@{socket.gethostname()}"
