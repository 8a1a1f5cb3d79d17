"""``backupbot state import|export``: the whole history moves between SQLite and PostgreSQL, ids kept."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from jobs.status import JobStatus
from jobs.store import DB_FILE, Store
from tests.support import pg

REPO = Path(__file__).resolve().parents[2]


def _cli(tmp_path: Path, env_extra: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BACKUPBOT_", "PYTEST_"))}
    env.update({"BACKUPBOT_STATE_DIR": str(tmp_path / "state"), **env_extra})
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _history(store: Store) -> dict[str, list[dict]]:
    out = {}
    for table in ("jobs", "audit", "approvals", "kv", "schedule_slots"):
        out[table] = [dict(r) for r in store.db.query(f"SELECT * FROM {table} ORDER BY 1")]
    return out


def test_import_then_export_keeps_every_row_and_new_ids_continue(tmp_path: Path) -> None:
    from jobs import schedule_runs

    path = tmp_path / "state" / DB_FILE
    small = Store(path, url="")
    job = small.create_job("dump", "prod", {"schedule": "nightly"}, requested_by="U1")
    small.transition(job.id, JobStatus.QUEUED, JobStatus.RUNNING, worker="w")
    restore = small.create_job("restore", "scratch", {"x": 1}, status=JobStatus.AWAITING_APPROVAL)
    small.db.execute(
        "INSERT INTO approvals (job_id, user, decision, binding, at) VALUES (?, ?, 'approve', 'b', 'now')",
        [restore.id, "U2"],
    )
    small.kv_set("streak:prod", {"failures": 3})
    schedule_runs.ensure_schema(small)
    small.db.execute(
        "INSERT INTO schedule_slots (entry, slot, job_kind, claimed_at) VALUES ('nightly', '2026-01-01T03:00Z', 'dump', 'x')"
    )
    before = _history(small)
    small.close()

    with pg.temp_database("bbstate") as url:
        out = _cli(tmp_path, {"BACKUPBOT_STATE_URL": url}, "state", "import")
        assert out.returncode == 0, out.stderr
        assert "jobs" in out.stdout and "2 rows" in out.stdout
        big = Store(tmp_path / "x", url=url)
        assert _history(big) == before
        assert big.get_job(restore.id).status == JobStatus.AWAITING_APPROVAL
        assert big.kv_get("streak:prod") == {"failures": 3}
        assert big.create_job("dump", "prod").id == restore.id + 1  # ids continue after the copied ones
        big.close()

        again = _cli(tmp_path, {"BACKUPBOT_STATE_URL": url}, "state", "import")
        assert again.returncode != 0
        assert "already holds rows" in again.stderr and "Nothing was copied" in again.stderr

        back = tmp_path / "back.sqlite3"
        out = _cli(tmp_path, {"BACKUPBOT_STATE_URL": url}, "state", "export", "--to", str(back))
        assert out.returncode == 0, out.stderr
        exported = Store(back, url="")
        assert _history(exported)["audit"][: len(before["audit"])] == before["audit"]
        assert _history(exported)["approvals"] == before["approvals"]
        assert len(_history(exported)["jobs"]) == 3
        assert exported.create_job("dump", "prod").id == restore.id + 2
        exported.close()


def test_import_without_a_state_url_or_file_says_what_is_missing(tmp_path: Path) -> None:
    out = _cli(tmp_path, {}, "state", "import")
    assert out.returncode != 0 and "BACKUPBOT_STATE_URL is not set" in out.stderr
    out = _cli(tmp_path, {"BACKUPBOT_STATE_URL": pg.url_for("postgres")}, "state", "import")
    assert out.returncode != 0 and "there is no SQLite state at" in out.stderr


@pytest.mark.parametrize("newer", [2])
def test_a_newer_schema_stops_the_process_with_a_message(tmp_path: Path, newer: int) -> None:
    with pg.temp_database("bbstate") as url:
        Store(tmp_path / "s", url=url).close()
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO backupbot.schema_version (version, applied_at) VALUES (%s, 'later')", [newer]
            )
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BACKUPBOT_", "PYTEST_", "SLACK_"))}
        env.update({"BACKUPBOT_STATE_URL": url, "BACKUPBOT_STATE_DIR": str(tmp_path / "state")})
        out = subprocess.run(
            [sys.executable, "-m", "jobs"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
        )
        assert out.returncode != 0
        assert f"schema version {newer}; this bot knows up to 1" in out.stderr
        assert "Deploy the newer backupbot" in out.stderr


def test_a_bad_state_setting_is_refused_with_the_fix(tmp_path: Path) -> None:
    from core.config import parse_config
    from core.errors import ConfigError

    raw = {"storage": {"url": "file:///tmp/x"}, "databases": {}, "state": {"schema": "Bad-Name; drop"}}
    with pytest.raises(ConfigError) as err:
        parse_config(raw, "b.toml")
    assert "[state] schema must be a plain lowercase name" in err.value.message
    with pytest.raises(ConfigError) as err:
        Store(tmp_path / "s", url="mysql://u:s3cret@h/db")
    assert "not a PostgreSQL URL" in err.value.message and "s3cret" not in err.value.render()
    with pytest.raises(ConfigError) as err:
        Store(tmp_path / "s", url="postgresql://u:s3cret@127.0.0.1:1/nowhere")
    assert "cannot reach the state database" in err.value.message and "s3cret" not in err.value.render()
