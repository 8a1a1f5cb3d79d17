"""``bot.guard`` on its own: what it refuses, what it lets through once, and that it forgets."""

from __future__ import annotations

from pathlib import Path

from bot.guard import MAX_BODY, WINDOW, RequestGuard
from tests.support.slack_signing import signature

SECRET = "guard-test-secret"


def test_refusals_in_order_of_cost(tmp_path: Path) -> None:
    guard = RequestGuard(SECRET, tmp_path)
    now = 1_800_000_000.0
    ts = str(int(now))
    body = b"command=/backup&text=help"
    sig = signature(SECRET, ts, body.decode())
    assert guard.check(b"x" * (MAX_BODY + 1), ts, sig, now=now).status == 413
    for bad in ("", "abc", "1e9", "12.5", "٣", "9" * 13):
        assert guard.check(body, bad, sig, now=now).status == 401, bad
    assert (
        guard.check(
            body, str(int(now) - 301), signature(SECRET, str(int(now) - 301), body.decode()), now=now
        ).status
        == 401
    )
    assert guard.check(body, ts, "v0=" + "0" * 64, now=now).status == 401
    assert guard.check(b"\x80", ts, sig, now=now).status == 401
    assert guard.seen() == 0  # nothing unverified is remembered


def test_a_signature_passes_once_and_is_forgotten_after_the_window(tmp_path: Path) -> None:
    guard = RequestGuard(SECRET, tmp_path)
    other = RequestGuard(SECRET, tmp_path)  # another web process on the same state
    now = 1_800_000_000.0
    ts = str(int(now))
    body = b"command=/backup&text=dump"
    sig = signature(SECRET, ts, body.decode())
    assert guard.check(body, ts, sig, now=now).forward
    again = guard.check(body, ts, sig, now=now + 1)
    assert (again.status, again.forward, again.reason) == (200, False, "replay")
    assert not other.check(body, ts, sig, now=now + 2).forward
    assert guard.seen() == 1
    later = now + WINDOW + 61  # long past the timestamp's five minutes: refused as stale anyway
    fresh_ts = str(int(later))
    assert guard.check(body, fresh_ts, signature(SECRET, fresh_ts, body.decode()), now=later).forward
    assert guard.seen() == 1  # the old signature was dropped, the new one kept
