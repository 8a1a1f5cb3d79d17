"""`backupbot doctor` against a working setup, then against each broken part in turn; and `/backup doctor`.

Real parts throughout: PostgreSQL, the local S3 server (a bucket policy that denies writes is
enforced by it), a backup made by `backupbot dump`, the fake Slack answering auth.test with the
scopes header real Slack sends. A broken pg_dump is a script on PATH printing an old version.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.doctor import SLACK_SCOPES
from tests.bot.conftest import ROOT, Bot
from tests.support import pg
from tests.support.fake_slack import FakeSlack
from tests.support.s3server import S3Server

BIN = Path(sys.executable).parent
PASSWORD = "s3cr@t:pw/x%"


def with_password(url: str) -> str:
    import re
    from urllib.parse import quote

    with_pw = re.sub(
        r"^(postgres(?:ql)?://[^:@/]+)@", lambda m: f"{m.group(1)}:{quote(PASSWORD, safe='')}@", url
    )
    assert with_pw != url, url
    return with_pw


@pytest.fixture
def setup(tmp_path: Path, s3_server: S3Server, realistic_db: str, backup_key: str) -> Any:
    fake = FakeSlack()
    bucket = s3_server.new_bucket()
    hook = tmp_path / "migrate.sh"
    hook.write_text("#!/bin/sh\nexit 0\n")
    hook.chmod(0o755)
    config = tmp_path / "backupbot.toml"
    config.write_text(
        textwrap.dedent(
            f"""
            [storage]
            url = "s3://{bucket}/bb"
            endpoint_url = "{s3_server.endpoint_url}"
            region = "us-east-1"

            [encryption]
            old_key_envs = ["BACKUPBOT_OLD_KEY"]

            [databases.app]
            dump_url_env = "APP_DUMP_URL"
            restore_url_env = "APP_RESTORE_URL"
            migrate = ["{hook}"]
            """
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "SLACK_", "BACKUPBOT_"))}
    env.update(
        {
            "BACKUPBOT_CONFIG": str(config),
            "BACKUPBOT_STATE_DIR": str(tmp_path / "state"),
            "BACKUPBOT_KEY": backup_key,
            "APP_DUMP_URL": with_password(realistic_db),
            "APP_RESTORE_URL": with_password(realistic_db),
            "SLACK_BOT_TOKEN": "xoxb-1111-2222-doctor",
            "SLACK_API_URL": fake.api_url,
        }
    )
    dumped = subprocess.run(
        [str(BIN / "backupbot"), "dump"], env=env, capture_output=True, text=True, timeout=120
    )
    assert dumped.returncode == 0, dumped.stderr
    yield {"env": env, "tmp": tmp_path, "bucket": bucket, "s3": s3_server, "fake": fake, "config": config}
    fake.stop()


def doctor(env: dict[str, str]) -> tuple[int, dict[str, Any], str]:
    out = subprocess.run(
        [str(BIN / "backupbot"), "doctor", "--json"], env=env, capture_output=True, text=True, timeout=120
    )
    text = subprocess.run(
        [str(BIN / "backupbot"), "doctor"], env=env, capture_output=True, text=True, timeout=120
    )
    assert text.returncode == out.returncode
    for secret in ("s3cr", "xoxb-1111", env["BACKUPBOT_KEY"]):
        assert secret not in out.stdout + out.stderr + text.stdout + text.stderr
    return out.returncode, json.loads(out.stdout), text.stdout


def by_name(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{c['area']}: {c['name']}": c for c in report["checks"]}


def failing(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: c for k, c in by_name(report).items() if c["status"] == "fail"}


def test_a_working_setup_passes_every_check(setup: Any) -> None:
    code, report, text = doctor(setup["env"])
    assert code == 0 and report["ok"], text
    checks = by_name(report)
    for name in (
        "config: loads",
        "database app: dump URL reachable",
        "database app: dump role can read everything",
        "database app: pg_dump version",
        "database app: restore URL reachable",
        "database app: pg_restore version",
        "storage: list",
        "storage: write a probe object",
        "storage: read it back",
        "storage: server-side encryption",
        "storage: delete it",
        "keys: current key",
        "slack: token valid (auth.test)",
        "slack: scopes",
        "hooks app: migrate",
    ):
        assert checks[name]["status"] == "ok", (name, checks.get(name))
    assert "@localhost:5432/" in checks["database app: dump URL reachable"]["detail"]
    assert "objects are stored with AES256" in checks["storage: server-side encryption"]["detail"]
    assert any(k.startswith("keys: key ") and "opens app-" in k for k in checks), checks
    assert checks["storage: Object Lock"]["status"] == "skip"
    assert text.rstrip().endswith("All checks passed.")
    assert not list(
        setup["s3"].client().list_objects_v2(Bucket=setup["bucket"], Prefix="bb/doctor/").get("Contents", [])
    )


def test_a_wrong_key_is_named_with_the_fix_and_an_old_key_passes(setup: Any) -> None:
    made_with = setup["env"]["BACKUPBOT_KEY"]
    other = base64.b64encode(os.urandom(32)).decode()
    code, report, text = doctor({**setup["env"], "BACKUPBOT_KEY": other})
    assert code == 1
    [(name, check)] = failing(report).items()
    assert name.startswith("keys: key ") and "which is not loaded" in check["detail"]
    assert "old_key_envs" in check["fix"]
    assert "FAIL keys: key " in text and "fix: Export the key that has that id" in text

    code, report, _ = doctor({**setup["env"], "BACKUPBOT_KEY": other, "BACKUPBOT_OLD_KEY": made_with})
    assert code == 0 and any("(BACKUPBOT_OLD_KEY) opens app-" in k for k in by_name(report))


def test_a_bucket_that_refuses_writes(setup: Any) -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{setup['bucket']}/*",
            }
        ],
    }
    setup["s3"].client().put_bucket_policy(Bucket=setup["bucket"], Policy=json.dumps(policy))
    code, report, _ = doctor(setup["env"])
    assert code == 1
    assert list(failing(report)) == ["storage: write a probe object"]
    check = failing(report)["storage: write a probe object"]
    assert "AccessDenied" in check["detail"] or "403" in check["detail"]
    assert "s3:PutObject" in check["fix"]


def test_an_unreachable_database(setup: Any) -> None:
    code, report, _ = doctor(
        {**setup["env"], "APP_DUMP_URL": with_password("postgresql://root@127.0.0.1:1/app")}
    )
    assert code == 1
    assert list(failing(report)) == ["database app: dump URL reachable"]
    check = failing(report)["database app: dump URL reachable"]
    assert check["detail"].startswith("root@127.0.0.1:1/app: ") and "APP_DUMP_URL" in check["fix"]


def test_a_pg_dump_older_than_the_server(setup: Any) -> None:
    fake_bin = setup["tmp"] / "oldbin"
    fake_bin.mkdir()
    script = fake_bin / "pg_dump"
    script.write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 9.6.24'\n")
    script.chmod(0o755)
    env = {
        **setup["env"],
        "PATH": f"{fake_bin}:{setup['env']['PATH']}",
        "BACKUPBOT_PG_LIB_DIR": str(setup["tmp"] / "no-other-clients"),
    }
    code, report, _ = doctor(env)
    assert code == 1
    assert list(failing(report)) == ["database app: pg_dump version"]
    check = failing(report)["database app: pg_dump version"]
    assert "pg_dump 9.6 is older than the server of database 'app' (15." in check["detail"]
    assert "postgresql-client-15" in check["fix"]


def test_a_missing_slack_scope_and_a_missing_hook(setup: Any) -> None:
    setup["fake"].scopes = ["commands", "chat:write", "chat:write.public"]
    setup["config"].write_text(setup["config"].read_text().replace("migrate.sh", "no-such-migrate.sh"))
    code, report, _ = doctor(setup["env"])
    assert code == 1
    assert sorted(failing(report)) == ["hooks app: migrate", "slack: scopes"]
    assert failing(report)["slack: scopes"]["detail"] == "the token lacks usergroups:read"
    assert "not an executable" in failing(report)["hooks app: migrate"]["detail"]
    assert [c.method for c in setup["fake"].api_calls()] == ["auth.test"] * 2


def test_the_scopes_checked_are_the_manifests() -> None:
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    assert sorted(manifest["oauth_config"]["scopes"]["bot"]) == sorted(SLACK_SCOPES)


def test_slash_doctor_answers_privately(bot_env: dict[str, Any], fake_slack: FakeSlack) -> None:
    config = Path(bot_env["env"]["BACKUPBOT_CONFIG"])
    config.write_text(config.read_text() + "migrate = []\n")
    bot = Bot(bot_env["dir"], {**bot_env["env"], "APP_DUMP_URL": with_password(bot_env["db"])}).start()
    try:
        resp = bot.command("doctor", response_url=fake_slack.response_url("doc"))
        assert resp.status_code == 200 and resp.json()["response_type"] == "ephemeral"
        [answer] = fake_slack.wait_for(lambda: fake_slack.responses.get("doc"), what="the doctor's report")
    finally:
        bot.stop()
    assert answer["response_type"] == "ephemeral"
    text = answer["text"]
    assert text.startswith("*backupbot doctor*") and text.rstrip().endswith(
        ":white_check_mark: All checks passed."
    )
    assert ":white_check_mark: *slack*: scopes" in text and ":white_check_mark: *storage*: delete it" in text
    assert "s3cr" not in text and "xoxb-" not in text and bot_env["env"]["BACKUPBOT_KEY"] not in text
    assert not fake_slack.messages("C1")  # nothing in the channel
    assert pg  # the databases are the fixtures'
