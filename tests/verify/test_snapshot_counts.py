"""Rows written while a dump runs: the manifest's counts and the dump agree to the row."""

from __future__ import annotations

import threading

import psycopg

from engine.dump import run_dump
from engine.verify import verify_backup
from tests.verify.conftest import VerifyScene


def test_counts_come_from_the_snapshot_pg_dump_dumps(verify_scene: VerifyScene) -> None:
    stop = threading.Event()
    written = [0]

    def writer() -> None:
        with psycopg.connect(verify_scene.source_url, autocommit=True) as conn:
            while not stop.is_set():
                conn.execute('INSERT INTO audit_log (event) VALUES (\'{"kind": "busy"}\')')
                written[0] += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while written[0] < 50:  # the writer is going before the dump starts
            stop.wait(0.01)
        backup = run_dump(verify_scene.cfg, "app", reason="under load")
        during = written[0]
    finally:
        stop.set()
        thread.join()
    recorded = backup.contents["tables"]["public.audit_log"]  # type: ignore[index]
    assert 50 + 50 < recorded < 50 + written[0]  # rows kept arriving before and after the snapshot
    assert during > recorded - 50  # and during the dump

    report = verify_backup(verify_scene.cfg, backup, verify_scene.book())
    assert report.tables["public.audit_log"] == {"restored": recorded, "recorded": recorded}
