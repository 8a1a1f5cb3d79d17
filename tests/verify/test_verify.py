"""`backupbot verify`: each step fails on what it is there to catch, and a good backup passes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from adapters.storage import open_storage
from cli.main import main
from engine import verify_record
from engine.verify import VerifyFailed, verify_backup
from tests.verify.conftest import VerifyScene, own_scratch_databases, scratch_databases


def test_manifest_records_tables_and_counts_from_the_dump_snapshot(verify_scene: VerifyScene) -> None:
    contents = verify_scene.backup.contents
    assert contents is not None
    assert contents["row_counts"] == "exact"
    assert contents["tables"] == {
        "public.audit_log": 50,
        "public.customers": 150,
        "public.invoices": 450,
    }
    assert contents["objects"]["sequence"] == 4
    assert contents["objects"]["index"] == 1
    assert contents["objects"]["fk_constraint"] == 1


def test_good_backup_passes_every_step_and_list_shows_it(
    verify_scene: VerifyScene, capsys: pytest.CaptureFixture[str]
) -> None:
    before = own_scratch_databases()
    assert main(["verify", verify_scene.backup.id, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["result"] == "passed"
    assert [s["status"] for s in out["steps"]] == ["ok", "ok", "ok", "ok"]
    assert out["tables"]["public.invoices"] == {"restored": 450, "recorded": 450}
    assert out["scratch_database"].startswith("backupbot_scratch_")
    assert out["scratch_database"] not in scratch_databases()
    assert own_scratch_databases() <= before
    assert verify_scene.book().all() == []

    stored = json.loads(
        open_storage(verify_scene.cfg.storage).get_bytes(verify_record.verify_key(verify_scene.backup))
    )
    assert stored["result"] == "passed" and stored["verified_at"]
    assert set(stored["steps"][0]) >= {"title", "seconds", "status"}

    assert main(["list"]) == 0
    listing = capsys.readouterr().out
    line = next(row for row in listing.splitlines() if verify_scene.backup.id in row)
    assert "verified 20" in line


def test_flipped_byte_fails_at_step_one_naming_the_object(verify_scene: VerifyScene) -> None:
    storage = verify_scene.storage()
    key = verify_scene.backup.key
    data = bytearray(storage.get_bytes(key))
    data[len(data) // 2] ^= 0x01
    storage.put_bytes(key, bytes(data))
    before = own_scratch_databases()

    with pytest.raises(VerifyFailed) as caught:
        verify_backup(verify_scene.cfg, verify_scene.backup, verify_scene.book())
    report = caught.value.report
    assert "step 1 (Integrity)" in caught.value.message
    assert key in report.steps[0].detail
    assert [s.status for s in report.steps] == ["failed", "not run", "not run", "skipped"]
    assert report.scratch == "" and own_scratch_databases() <= before
    stored = verify_record.read(storage, verify_scene.backup)
    assert stored is not None and stored["result"] == "failed" and stored["failed_step"] == 1

    # Deleting the backup (prune, retention) takes its verification record with it.
    from engine.catalog import delete_backup

    delete_backup(verify_scene.cfg, verify_scene.backup, storage)
    assert not storage.exists(verify_record.verify_key(verify_scene.backup))


def test_archive_lacking_a_listed_table_fails_at_step_two(verify_scene: VerifyScene) -> None:
    tables = dict(verify_scene.backup.contents["tables"])  # type: ignore[index]
    tables["public.payments"] = 12
    manifest = verify_scene.rewrite_manifest({"contents/tables": tables})

    with pytest.raises(VerifyFailed) as caught:
        verify_backup(verify_scene.cfg, manifest, verify_scene.book())
    report = caught.value.report
    assert "step 2 (Contents)" in caught.value.message
    assert "public.payments" in caught.value.detail  # type: ignore[operator]
    assert [s.status for s in report.steps] == ["ok", "failed", "not run", "skipped"]


def test_row_count_difference_fails_at_step_three_naming_table_and_counts(verify_scene: VerifyScene) -> None:
    manifest = verify_scene.rewrite_manifest({"contents/tables/public.invoices": 451})

    with pytest.raises(VerifyFailed) as caught:
        verify_backup(verify_scene.cfg, manifest, verify_scene.book())
    report = caught.value.report
    assert "step 3" in caught.value.message
    assert "table public.invoices: 450 rows restored, 451 counted at dump time" in caught.value.detail  # type: ignore[operator]
    assert [s.status for s in report.steps] == ["ok", "ok", "failed", "ok"]
    assert report.scratch and report.scratch not in scratch_databases()
    assert verify_scene.book().all() == []


def test_estimated_counts_check_presence_only_and_say_so(verify_scene: VerifyScene) -> None:
    text = verify_scene.cfg_path.read_text().replace(
        'restore_url_env = "APP_RESTORE_URL"\n',
        'restore_url_env = "APP_RESTORE_URL"\nrow_counts = "estimate"\n',
    )
    verify_scene.cfg_path.write_text(text)
    from engine.dump import run_dump

    backup = run_dump(verify_scene.cfg, "app")
    assert backup.contents is not None and backup.contents["row_counts"] == "estimate"
    assert set(backup.contents["tables"]) == {"public.audit_log", "public.customers", "public.invoices"}
    verify_scene.backup = backup
    manifest = verify_scene.rewrite_manifest({"contents/tables/public.invoices": 9999})

    report = verify_backup(verify_scene.cfg, manifest, verify_scene.book())
    assert report.passed
    assert "row counts are estimates: presence checked only" in report.steps[2].detail
    assert report.tables["public.invoices"] == {"restored": 450, "recorded": 9999}


def test_manifest_without_contents_still_verifies(verify_scene: VerifyScene) -> None:
    manifest = verify_scene.rewrite_manifest({"contents": None})
    report = verify_backup(verify_scene.cfg, manifest, verify_scene.book())
    assert report.passed
    assert "predates table lists" in report.steps[1].detail
    assert "predates row counts" in report.steps[2].detail


def test_cli_verification_is_announced_in_the_channel(
    verify_scene: VerifyScene, fake_slack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    verify_scene.cfg_path.write_text(verify_scene.cfg_path.read_text() + '\n[slack]\nchannel = "CVERIFY"\n')
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test-token")
    assert main(["verify", verify_scene.backup.id]) == 0
    [post] = fake_slack.messages("CVERIFY")
    assert f"Backup {verify_scene.backup.id} of *app* verified from the CLI: all 4 steps passed" in post.text
    assert "Integrity " in post.text and "Drop scratch database " in post.text


def test_an_unreachable_verification_server_is_an_error_not_a_bad_backup(
    verify_scene: VerifyScene, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BACKUPBOT_VERIFY_URL", "postgresql://postgres@127.0.0.1:1/postgres")
    with pytest.raises(VerifyFailed) as caught:
        verify_backup(verify_scene.cfg, verify_scene.backup, verify_scene.book())
    assert "could not finish at step 3" in caught.value.message
    assert "the verification server does not answer" in (caught.value.detail or "")
    stored = verify_record.read(verify_scene.storage(), verify_scene.backup)
    assert stored is not None and stored["result"] == "error"
    assert verify_record.mark(stored).startswith("not verified: error ")


def test_a_cancelled_verification_records_nothing(verify_scene: VerifyScene) -> None:
    import threading

    cancel = threading.Event()
    cancel.set()
    with pytest.raises(VerifyFailed, match="was cancelled at step 1"):
        verify_backup(verify_scene.cfg, verify_scene.backup, verify_scene.book(), cancel=cancel)
    assert verify_record.read(verify_scene.storage(), verify_scene.backup) is None
