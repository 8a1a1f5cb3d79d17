"""A job queued by one process wakes the idle runner of another at once (LISTEN/NOTIFY)."""

from __future__ import annotations

import time
from pathlib import Path

from jobs.store import Store
from tests.support import pg


def test_queuing_in_one_process_wakes_the_others_runner(tmp_path: Path) -> None:
    with pg.temp_database("bbstate") as url:
        web, worker = Store(tmp_path / "a", url=url), Store(tmp_path / "b", url=url)
        try:
            worker.watch_queue()
            time.sleep(0.5)  # LISTEN is in place
            worker.job_queued.clear()
            web.kv_set("unrelated", 1)
            assert not worker.job_queued.wait(1.5)  # other writes do not wake it
            started = time.monotonic()
            web.create_job("dump", "app")
            assert worker.job_queued.wait(5)
            assert time.monotonic() - started < 1.5
        finally:
            web.close()
            worker.close()
