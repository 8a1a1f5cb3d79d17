"""A replayed signed request is run once even when it reaches web processes on different machines."""

from __future__ import annotations

from pathlib import Path

from bot.guard import RequestGuard
from jobs.store import Store
from tests.support import pg
from tests.support.slack_signing import signature

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


def test_two_web_processes_sharing_only_the_state_url_run_a_replay_once(tmp_path: Path) -> None:
    with pg.temp_database("bbstate") as url:
        a, b = Store(tmp_path / "a" / "bb.sqlite3", url=url), Store(tmp_path / "b" / "bb.sqlite3", url=url)
        try:
            web_a = RequestGuard(SECRET, tmp_path / "a", a)  # separate state directories
            web_b = RequestGuard(SECRET, tmp_path / "b", b)
            now = 1_800_000_000.0
            ts = str(int(now))
            body = b"command=/backup&text=dump"
            sig = signature(SECRET, ts, body.decode())
            assert web_a.check(body, ts, sig, now=now).forward
            replay = web_b.check(body, ts, sig, now=now + 1)
            assert (replay.status, replay.forward, replay.reason) == (200, False, "replay")
            assert web_a.seen() == 1 == web_b.seen()
            assert not (tmp_path / "b" / "slack-seen.sqlite3").exists()
        finally:
            a.close()
            b.close()
