"""`/backup files …` through ``dispatch``, as Slack and the console call it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from commands.base import Invocation
from commands.grammar import dispatch
from core.config import load_config
from engine.files_sync import sync_files
from jobs.store import Store
from tests.files.conftest import FilesFactory


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "bb.sqlite3")
    yield s
    s.close()


def test_files_list_and_what_is_refused(files_setup: FilesFactory, store: Store) -> None:
    setup = files_setup()
    setup.put("xml/<b>bold</b>.xml", b"<a/>")
    sync_files(setup.cfg)
    inv = Invocation(user="U1", channel="C1", cfg=setup.cfg, store=store)
    reply = dispatch("files list", inv)
    assert reply.text == "Looking up the app's files in the backup…" and reply.later is not None
    listed = reply.later().text
    assert "1 file(s)" in listed and "`xml/&lt;b&gt;bold&lt;/b&gt;.xml` · 4 B" in listed

    assert "files sync takes no --at" in dispatch("files sync --at 2026-12-01", inv).text
    assert "--at 'yesterday' is not a date" in dispatch("files verify --at yesterday", inv).text
    assert store.list_jobs() == []
    queued = dispatch("files verify --at 2026-12-01", inv)
    assert "Queued a check of the backed-up app files as job 1" in queued.text
    assert store.get_job(1).params == {"at": "2026-12-01"}

    no_files = Invocation(user="U1", channel="C1", cfg=load_config(str(setup.cfg_path)), store=store)
    setup.cfg_path.write_text(setup.cfg_path.read_text().split("[files]")[0])
    no_files.cfg = load_config(str(setup.cfg_path))
    answer = dispatch("files sync", no_files).text
    assert "the application's files are not configured" in answer and "[files]" in answer
    assert len(store.list_jobs()) == 1


def test_long_reports_are_cut_to_what_slack_accepts() -> None:
    from jobs.kinds.files import DETAIL_BUDGET, fit

    bad = [f"• `xml/{'x' * 150}-{n}.xml` — malformed XML: mismatched tag at line {n}" for n in range(60)]
    lines = fit(
        [("Bad files:", bad), ("Expired certificates:", ["• `a.pem` — CN=a — 2020-01-01"])], DETAIL_BUDGET
    )
    assert len("\n".join(lines)) <= DETAIL_BUDGET
    assert lines[0] == "Bad files:" and lines[1] == bad[0]
    cut = next(line for line in lines if line.startswith("… and "))
    shown = lines.index(cut) - 1
    assert cut == f"… and {60 - shown} more (`backupbot files verify` lists all)"
    assert (
        lines[-2:] == ["Expired certificates:", "• `a.pem` — CN=a — 2020-01-01"]
        or "Expired certificates:" not in lines
    )
