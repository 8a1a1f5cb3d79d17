"""The safety dump is of the database the restore overwrites, even when the dump URL reaches another one.

Deployments dump from a read replica, or (as in the README's approval example) name two
different databases; the pre-restore dump must still hold what the restore replaces, and
its printed undo must bring the target back exactly.
"""

from __future__ import annotations

import pytest

from adapters import pg_restore
from engine.catalog import get_backup
from engine.decrypt import iter_plain
from engine.restore import RestoreRequest, run_restore
from engine.restore_plan import preflight, undo_command
from tests.restore.conftest import Scene
from tests.support import pg


def request(scene: Scene, backup_id: str) -> RestoreRequest:
    return RestoreRequest(backup_id, "staging", "U0DEV", ("U0LEAD1",), "url test")


def test_same_database_is_said_on_the_card(scene: Scene) -> None:
    pre = preflight(scene.cfg, scene.backup, "staging", state=scene.store())
    assert pre.fields["Safety dump"].startswith("through the restore URL, of database bbtgt_")
    assert "(the dump URL reaches the same database)" in pre.fields["Safety dump"]


def test_dump_url_elsewhere_safety_dump_still_holds_the_target(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pg.temp_database("bbreplica") as replica:
        pg.fill_realistic(replica, customers=7, invoices_per_customer=1)
        monkeypatch.setenv("STAGING_DUMP_URL", replica)  # nightly dumps of 'staging' read another database
        cfg = scene.cfg
        pre = preflight(cfg, scene.backup, "staging", state=scene.store())
        assert "the dump URL reaches another database" in pre.fields["Safety dump"]

        report = run_restore(cfg, request(scene, scene.backup.id), state=scene.store())
        assert report.succeeded
        assert pg.table_checksums(scene.target_url) == pg.table_checksums(scene.source_url)

        # The safety dump holds the target's rows as they were, not the replica's.
        safety = get_backup(cfg, str(report.safety_id))
        with pg.temp_database("bbcheck") as check:
            pg_restore.restore_stream(check, "check", iter_plain(cfg, safety), clean=False)
            assert pg.table_checksums(check) == scene.target_before

        # The printed undo restores that safety dump into the target: back exactly.
        assert undo_command(str(report.safety_id), "staging", report.restore_id) in report.runbook_text
        undo = run_restore(cfg, request(scene, str(report.safety_id)), state=scene.store())
        assert undo.succeeded
        assert pg.table_checksums(scene.target_url) == scene.target_before
