"""`restore-table`: one table with its sequence and indexes into a scratch database, never a target."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from cli.main import main
from commands.base import Invocation
from commands.grammar import dispatch
from commands.permissions import GroupDirectory
from engine import scratch
from jobs.scheduler import Scheduler
from jobs.status import JobStatus
from tests.support import pg
from tests.support.fake_slack import FakeSlack
from tests.verify.conftest import VerifyScene, own_scratch_databases, scratch_databases

SECRET = "s3cr%40t%3Aw%2Fx"  # "s3cr@t:w/x"; trust auth lets any password in


def test_one_table_comes_back_exactly_and_the_commands_copy_rows_back(
    verify_scene: VerifyScene,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    base, _, _ = pg.ADMIN_URL.rpartition("/")
    monkeypatch.setenv("BACKUPBOT_VERIFY_URL", base.replace("postgres@", f"postgres:{SECRET}@") + "/postgres")
    source = verify_scene.source_url
    before = pg.table_checksums(source)["public.invoices"]

    assert main(["restore-table", verify_scene.backup.id, "invoices", "--json"]) == 0
    printed = capsys.readouterr().out
    assert "s3cr" not in printed
    out = json.loads(printed)
    name = out["scratch_database"]
    assert name.startswith("backupbot_scratch_") and name in scratch_databases()
    assert (out["rows"], out["checksum"]) == before

    scratch_url = pg.url_for(name)
    with psycopg.connect(scratch_url) as conn:
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        indexes = {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")}
        next_id = conn.execute("SELECT nextval('public.invoices_id_seq')").fetchone()[0]  # type: ignore[index]
    assert tables == {"invoices"}  # not customers, not audit_log
    assert {"invoices_pkey", "invoices_customer_idx"} <= indexes
    assert next_id == 451  # the sequence came back with its value
    assert pg.table_checksums(scratch_url)["public.invoices"] == before

    # Someone deletes rows; the printed commands put them back.
    with psycopg.connect(source, autocommit=True) as conn:
        conn.execute("DELETE FROM invoices WHERE id % 7 = 0")
    assert pg.table_checksums(source)["public.invoices"] != before
    for command in out["commands"]:
        assert "s3cr" not in command
        done = subprocess.run(
            ["bash", "-c", command], cwd=tmp_path, env=dict(os.environ), capture_output=True
        )
        assert done.returncode == 0, done.stderr.decode()
    assert pg.table_checksums(source)["public.invoices"] == before

    # Kept until its time is up, then the scheduler drops it.
    expires = datetime.fromisoformat(out["expires_at"])
    assert timedelta(hours=23.9) < expires - datetime.now(UTC) <= timedelta(hours=24)
    book = verify_scene.book()
    assert scratch.sweep(verify_scene.cfg, book, datetime.now(UTC)) == []
    assert name in scratch_databases()
    scheduler = Scheduler(verify_scene.cfg, book.store, _Quiet(), entries=[])
    assert scheduler.drop_scratch(expires + timedelta(seconds=1)) == [name]
    assert name not in scratch_databases()


def test_a_configured_database_as_verify_server_is_refused(
    verify_scene: VerifyScene, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BACKUPBOT_VERIFY_URL", verify_scene.source_url)
    before = own_scratch_databases()
    assert main(["restore-table", verify_scene.backup.id, "invoices"]) == 2
    assert main(["verify", verify_scene.backup.id]) != 0
    err = capsys.readouterr().err
    assert "the verification server URL points at database 'app'" in err
    assert own_scratch_databases() == before and verify_scene.book().all() == []


def test_restore_table_from_slack_replies_with_where_rows_and_when_it_is_dropped(
    verify_scene: VerifyScene, make_bot: Any, fake_slack: FakeSlack
) -> None:
    cfg = verify_scene.cfg
    bot = make_bot(cfg)
    inv = Invocation(
        user="UDEV",
        channel="CJOBS",
        cfg=cfg,
        store=bot.store,
        reporter=bot.reporter,
        directory=GroupDirectory(None),
    )
    reply = dispatch("restore-table latest public.customers app", inv)
    assert reply.job_id is not None
    assert bot.store.get_job(reply.job_id).lane == "scratch:app"
    job = bot.wait_job(bot.store.get_job(reply.job_id), timeout=120)
    assert job.status == JobStatus.SUCCEEDED, job.error
    bot.flush()
    [post] = [m for m in fake_slack.messages("CJOBS") if f"job {job.id}" in m.text]
    assert "Table restore of `app`" in post.text
    assert (
        f"is in scratch database `{job.result['scratch_database']}`" in post.text
        and ": 150 rows" in post.text
    )
    assert "Dropped at:" in post.text and "(in 24 h" in post.text
    assert "\\copy public.customers TO customers.csv" in post.text and '"$APP_RESTORE_URL"' in post.text
    scratch.drop(scratch.server_url(cfg), verify_scene.book(), job.result["scratch_database"])


class _Quiet:
    def __getattr__(self, name: str) -> Any:
        return lambda *a: None
