"""The three shipped IAM policies (docs/iam/), each enforced by a moto server with IAM on.

Every command a role needs runs with exactly that role's policy; what a role must not do is
refused and leaves the bucket as it was. Separate databases for dump and restore, as people
really have them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from adapters.crypto import MAGIC
from tests.support import pg
from tests.support.iam import PREFIX, IAMServer

BIN = Path(sys.executable).parent


def role_env(
    tmp: Path, server: IAMServer, role: str, key: str, dump_url: str, restore_url: str = ""
) -> dict[str, str]:
    config = tmp / f"backupbot-{role}.toml"
    config.write_text(
        textwrap.dedent(
            f"""
            [storage]
            url = "s3://{server.bucket}/{PREFIX}"
            endpoint_url = "{server.endpoint_url}"
            region = "us-east-1"

            [retention]
            daily = 1
            weekly = 0
            monthly = 0
            yearly = 0
            pre_event_days = 30

            [databases.app]
            dump_url_env = "APP_URL"
            restore_url_env = "APP_RESTORE_URL"
            migrate = []
            """
        )
    )
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "SLACK_", "BACKUPBOT_", "AWS_"))
    }
    env.update(server.users[role].env())
    env.update(
        {
            "AWS_DEFAULT_REGION": "us-east-1",
            "BACKUPBOT_CONFIG": str(config),
            "BACKUPBOT_STATE_DIR": str(tmp / f"state-{role}"),
            "BACKUPBOT_KEY": key,
            "APP_URL": dump_url,
            "APP_RESTORE_URL": restore_url or dump_url,
        }
    )
    return env


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "backupbot"), *args], env=env, capture_output=True, text=True, timeout=180
    )


def ok(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    proc = run(env, *args)
    assert proc.returncode == 0, f"backupbot {' '.join(args)}: {proc.stderr}{proc.stdout}"
    return proc


def checks(out: str) -> dict[str, dict[str, Any]]:
    return {f"{c['area']}: {c['name']}": c for c in json.loads(out)["checks"]}


def test_bot_policy_runs_dump_list_show_restore_decrypt_prune_and_doctor(
    tmp_path: Path, iam_server: IAMServer, realistic_db: str, backup_key: str
) -> None:
    with pg.temp_database("bbiam") as target:
        env = role_env(tmp_path, iam_server, "bot", backup_key, realistic_db, target)
        doctor = run(env, "doctor", "--json")
        storage = {k: c for k, c in checks(doctor.stdout).items() if k.startswith("storage")}
        assert all(c["status"] in ("ok", "skip") for c in storage.values()), storage
        assert doctor.returncode == 0, doctor.stdout

        older = json.loads(ok(env, "dump", "--kind", "daily", "--json").stdout)
        newer = json.loads(ok(env, "dump", "--kind", "daily", "--json").stdout)
        listed = [b["id"] for b in json.loads(ok(env, "list", "--json").stdout)]
        assert listed[:2] == [newer["id"], older["id"]]
        assert json.loads(ok(env, "show", newer["id"], "--json").stdout)["sha256"] == newer["sha256"]

        plain = tmp_path / "plain.dump"
        ok(env, "decrypt", newer["id"], "-o", str(plain))
        assert plain.read_bytes()[:5] == b"PGDMP"

        ok(env, "restore", newer["id"], "--target", "app", "--break-glass", "--reason", "iam bot policy")
        assert pg.table_checksums(target) == pg.table_checksums(realistic_db)

        pruned = json.loads(ok(env, "prune", "--database", "app", "--confirm", "--json").stdout)
        deleted = {b["id"] for b in pruned["databases"][0]["backups"] if b["action"] == "deleted"}
        assert older["id"] in deleted and newer["id"] not in deleted
    keys = iam_server.keys()
    assert f"{PREFIX}/{older['key']}" not in keys and f"{PREFIX}/{newer['key']}" in keys


def test_pipeline_policy_dumps_and_reads_the_catalog_but_cannot_delete_or_overwrite(
    tmp_path: Path, iam_server: IAMServer, realistic_db: str, backup_key: str
) -> None:
    env = role_env(tmp_path, iam_server, "pipeline", backup_key, realistic_db)
    doomed = json.loads(ok(env, "dump", "--kind", "daily", "--json").stdout)  # retention would delete it
    ok(env, "dump", "--kind", "daily")
    manifest = json.loads(ok(env, "dump", "--kind", "pre-migration", "--json").stdout)
    assert manifest["kind"] == "pre-migration"
    assert manifest["id"] in [b["id"] for b in json.loads(ok(env, "list", "--json").stdout)]
    assert json.loads(ok(env, "show", manifest["id"], "--json").stdout)["key"] == manifest["key"]

    obj, man = f"{PREFIX}/{manifest['key']}", f"{PREFIX}/{manifest['manifest_key']}"
    before = {
        k: iam_server.client().get_object(Bucket=iam_server.bucket, Key=k)["Body"].read() for k in (obj, man)
    }
    s3 = iam_server.client("pipeline")
    for attempt in (
        lambda: s3.delete_object(Bucket=iam_server.bucket, Key=obj),
        lambda: s3.delete_object(Bucket=iam_server.bucket, Key=man),
    ):
        with pytest.raises(ClientError) as refused:
            attempt()
        assert refused.value.response["Error"]["Code"] == "AccessDenied"
    batch = s3.delete_objects(Bucket=iam_server.bucket, Delete={"Objects": [{"Key": obj}, {"Key": man}]})
    assert {e["Code"] for e in batch.get("Errors", [])} == {"AccessDenied"} and not batch.get("Deleted")

    # prune with the pipeline's credential: the delete is refused, and it says which permission is missing
    kept = iam_server.keys()
    prune = run(env, "prune", "--database", "app", "--confirm", "--json")
    assert prune.returncode != 0
    assert (
        f"s3:DeleteObject denied on arn:aws:s3:::{iam_server.bucket}/{PREFIX}/{doomed['manifest_key']}"
        in (prune.stdout + prune.stderr)
    )
    assert iam_server.keys() == kept

    # no overwrite: the code writes create-only, so the store refuses (412) instead of replacing
    with pytest.raises(ClientError) as refused:
        s3.put_object(Bucket=iam_server.bucket, Key=man, Body=b"{}", IfNoneMatch="*")
    assert refused.value.response["Error"]["Code"] == "PreconditionFailed"

    after = {
        k: iam_server.client().get_object(Bucket=iam_server.bucket, Key=k)["Body"].read() for k in (obj, man)
    }
    assert after == before, "nothing a pipeline credential did may change a stored backup"
    assert after[obj][: len(MAGIC)] == MAGIC


def test_doctor_names_the_missing_permission_when_a_pipeline_credential_runs_the_bot(
    tmp_path: Path, iam_server: IAMServer, realistic_db: str, backup_key: str
) -> None:
    env = role_env(tmp_path, iam_server, "pipeline", backup_key, realistic_db)
    doctor = run(env, "doctor", "--json")
    assert doctor.returncode == 1
    failed = {k: c for k, c in checks(doctor.stdout).items() if c["status"] == "fail"}
    write = failed["storage: write a probe object"]
    assert (
        f"s3:PutObject denied on arn:aws:s3:::{iam_server.bucket}/{PREFIX}/doctor/probe-" in write["detail"]
    )
    assert write["fix"].startswith(f"Grant s3:PutObject on arn:aws:s3:::{iam_server.bucket}/{PREFIX}/doctor/")


def test_reader_policy_lists_and_decrypts_and_nothing_else(
    tmp_path: Path, iam_server: IAMServer, realistic_db: str, backup_key: str
) -> None:
    bot = role_env(tmp_path, iam_server, "bot", backup_key, realistic_db)
    manifest = json.loads(ok(bot, "dump", "--json").stdout)
    env = role_env(tmp_path, iam_server, "reader", backup_key, realistic_db)
    assert manifest["id"] in [b["id"] for b in json.loads(ok(env, "list", "--json").stdout)]
    plain = tmp_path / "reader.dump"
    ok(env, "decrypt", manifest["id"], "-o", str(plain))
    assert plain.read_bytes()[:5] == b"PGDMP"

    before = iam_server.keys()
    dump = run(env, "dump")
    assert dump.returncode != 0
    assert (
        f"s3:PutObject denied on arn:aws:s3:::{iam_server.bucket}/{PREFIX}/.backupbot-probe/writable"
        in dump.stderr
    )
    assert "Grant s3:PutObject" in dump.stderr
    prune = run(env, "prune", "--database", "app", "--confirm")
    assert prune.returncode != 0 or manifest["id"] in prune.stdout
    assert iam_server.keys() == before


def test_bot_policy_with_object_lock_locks_and_prune_reports_it(
    tmp_path: Path, iam_server: IAMServer, realistic_db: str, backup_key: str
) -> None:
    env = role_env(tmp_path, iam_server, "bot", backup_key, realistic_db)
    config = Path(env["BACKUPBOT_CONFIG"])
    config.write_text(
        config.read_text().replace(
            'region = "us-east-1"',
            'region = "us-east-1"\nobject_lock_mode = "GOVERNANCE"\nobject_lock_days = 1',
        )
    )
    doctor = run(env, "doctor", "--json")
    lock = checks(doctor.stdout)["storage: Object Lock"]
    assert lock["status"] == "ok" and "GOVERNANCE for 1 days" in lock["detail"], lock
    locked = json.loads(ok(env, "dump", "--kind", "daily", "--json").stdout)
    ok(env, "dump", "--kind", "daily")
    head = iam_server.client().head_object(Bucket=iam_server.bucket, Key=f"{PREFIX}/{locked['key']}")
    assert head["ObjectLockMode"] == "GOVERNANCE"
    plan = json.loads(ok(env, "prune", "--database", "app", "--json").stdout)
    rows = {b["id"]: b for b in plan["databases"][0]["backups"]}
    assert rows[locked["id"]]["action"] == "locked"
