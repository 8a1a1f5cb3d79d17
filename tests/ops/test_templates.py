"""The pipeline templates in templates/: each parses, and the exact commands in it run against real
PostgreSQL and the local S3 server. A failed backup must stop what comes after it (the migration,
retention); `npx` is a stand-in on PATH that records that it ran, since the app's migration tool is
not ours."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from croniter import croniter

from tests.bot.conftest import ROOT
from tests.support.s3server import S3Server

TEMPLATES = ROOT / "templates"
BIN = Path(sys.executable).parent  # where `backupbot` is installed


@pytest.fixture
def setup(tmp_path: Path, s3_server: S3Server, realistic_db: str, backup_key: str) -> dict[str, Any]:
    bucket = s3_server.new_bucket()
    config = tmp_path / "backupbot.toml"
    config.write_text(
        f"""
[storage]
url = "s3://{bucket}/bb"
endpoint_url = "{s3_server.endpoint_url}"
region = "us-east-1"

[databases.app]
dump_url_env = "DATABASE_URL"
"""
    )
    fake = tmp_path / "fakebin"
    fake.mkdir()
    npx = fake / "npx"
    npx.write_text(f'#!/bin/sh\necho "$@" >> {tmp_path / "npx.log"}\n')
    npx.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "SLACK_", "BACKUPBOT_"))}
    env.update(
        {
            "PATH": f"{fake}:{BIN}:{os.environ['PATH']}",
            "BACKUPBOT_CONFIG": str(config),
            "BACKUPBOT_STATE_DIR": str(tmp_path / "state"),
            "BACKUPBOT_KEY": backup_key,
            "DATABASE_URL": realistic_db,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }
    )
    return {"env": env, "tmp": tmp_path, "npx_log": tmp_path / "npx.log", "bucket": bucket, "s3": s3_server}


def backups(setup: dict[str, Any]) -> list[str]:
    out = subprocess.run(
        [str(BIN / "backupbot"), "list", "--json"],
        env=setup["env"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    # ids without their random nonce, so the kind is at the end
    return re.findall(r'"id": "(app-\d{8}T\d{6}Z-[a-z-]*[a-z])(?:-[0-9][0-9a-z]{3})?"', out.stdout)


def migrations(setup: dict[str, Any]) -> list[str]:
    log = setup["npx_log"]
    return log.read_text().splitlines() if log.exists() else []


def unreachable(setup: dict[str, Any]) -> dict[str, str]:
    return {**setup["env"], "DATABASE_URL": "postgresql://root@127.0.0.1:1/app"}


def run_actions_job(path: Path, job: str, env: dict[str, str]) -> list[tuple[str, int]]:
    """The job's `run` steps in order, as the runner does (bash -eo pipefail), stopping at a failure.

    `uses:` steps and the `Install …` steps set up a fresh runner; here their work is already done.
    """
    spec = yaml.safe_load(path.read_text())
    ran = []
    for step in spec["jobs"][job]["steps"]:
        if "run" not in step or step.get("name", "").startswith("Install"):
            continue
        full = {**env, "GITHUB_SHA": "0123abc", "GITHUB_ACTOR": "octocat"}
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            env=full,
            capture_output=True,
            text=True,
            timeout=120,
        )
        ran.append((step.get("name", step["run"]), proc.returncode))
        if proc.returncode != 0:
            break
    return ran


def test_github_actions_backs_up_before_migrating_and_stops_when_the_backup_fails(
    setup: dict[str, Any],
) -> None:
    path = TEMPLATES / "github-actions" / "deploy.yml"
    spec = yaml.safe_load(path.read_text())
    assert spec["jobs"]["deploy"]["needs"] == "migrate"
    env_names = set(spec["jobs"]["migrate"]["env"])
    assert {"BACKUPBOT_KEY", "DATABASE_URL", "AWS_ACCESS_KEY_ID", "BACKUPBOT_CONFIG"} <= env_names

    assert run_actions_job(path, "migrate", setup["env"]) == [("Pre-migration backup", 0), ("Migrate", 0)]
    assert [b.endswith("-pre-migration") for b in backups(setup)] == [True]
    assert migrations(setup) == ["prisma migrate deploy"]

    ran = run_actions_job(path, "migrate", unreachable(setup))
    assert ran[0][0] == "Pre-migration backup" and ran[0][1] != 0 and len(ran) == 1
    assert migrations(setup) == ["prisma migrate deploy"] and len(backups(setup)) == 1


def _procfile(name: str) -> str:
    lines = dict(
        line.split(":", 1)
        for line in (TEMPLATES / "heroku" / "Procfile").read_text().splitlines()
        if line.strip()
    )
    return lines[name].strip()


def test_heroku_release_phase_backs_up_then_migrates(setup: dict[str, Any]) -> None:
    release = _procfile("release")
    assert _procfile("web") == "python -m bot"
    env = {**setup["env"], "HEROKU_RELEASE_VERSION": "v42"}
    # Heroku runs a Procfile command with bash -c.
    ok = subprocess.run(["bash", "-c", release], env=env, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert migrations(setup) == ["prisma migrate deploy"]
    listed = subprocess.run(
        [str(BIN / "backupbot"), "list", "--json"], env=env, capture_output=True, text=True, timeout=60
    ).stdout
    assert "Heroku release v42" in listed and "-pre-migration" in listed

    failed = subprocess.run(
        ["bash", "-c", release], env=unreachable(setup), capture_output=True, text=True, timeout=120
    )
    assert failed.returncode != 0 and "ERROR:" in failed.stderr
    assert migrations(setup) == ["prisma migrate deploy"]  # a failed release phase stops the deploy


def test_kubernetes_cronjob_dumps_then_prunes(setup: dict[str, Any]) -> None:
    spec = yaml.safe_load((TEMPLATES / "kubernetes" / "cronjob.yml").read_text())
    assert spec["kind"] == "CronJob" and croniter.is_valid(spec["spec"]["schedule"])
    pod = spec["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    argv = [*container["command"], *container["args"]]
    assert argv[:2] == ["/bin/sh", "-c"]
    proc = subprocess.run(argv, env=setup["env"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert [b.endswith("-daily") for b in backups(setup)] == [True]
    assert "kept" in proc.stdout  # the retention report of `backupbot prune`
    failed = subprocess.run(argv, env=unreachable(setup), capture_output=True, text=True, timeout=120)
    assert failed.returncode != 0 and len(backups(setup)) == 1
    assert "app:" not in failed.stdout  # prune did not run after the failed dump


def test_cron_line_dumps_then_prunes(setup: dict[str, Any]) -> None:
    text = (TEMPLATES / "cron" / "backupbot").read_text()
    settings = dict(line.split("=", 1) for line in text.splitlines() if re.match(r"^[A-Z_]+=", line))
    jobs = [
        line for line in text.splitlines() if line and not line.startswith("#") and "=" not in line.split()[0]
    ]
    assert len(jobs) == 1
    fields = jobs[0].split(None, 6)
    assert (
        croniter.is_valid(" ".join(fields[:5])) and fields[5] == "backupbot"
    )  # /etc/cron.d has a user field
    command = fields[6]
    secrets = setup["tmp"] / "backupbot.env"
    secrets.write_text(
        "\n".join(
            f"{k}={shlex.quote(setup['env'][k])}"
            for k in ("BACKUPBOT_KEY", "DATABASE_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
        )
        + "\n"
    )
    env = {k: v for k, v in setup["env"].items() if k not in ("BACKUPBOT_KEY", "DATABASE_URL")}
    env.update({k: v for k, v in settings.items() if k not in ("PATH", "BACKUPBOT_CONFIG", "BACKUPBOT_ENV")})
    env["BACKUPBOT_ENV"] = str(secrets)
    assert settings["SHELL"] == "/bin/sh"
    proc = subprocess.run(
        [settings["SHELL"], "-c", command], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert [b.endswith("-daily") for b in backups(setup)] == [True]
