"""The pruning guard as a pure rule: when the nightly is failing, nothing is rotated out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from engine.prune import guard_reason
from engine.retention import BackupRef

NOW = datetime(2026, 6, 10, 9, 0, tzinfo=UTC)


def nightly(hours_ago: float, kind: str = "daily", good: bool = True) -> BackupRef:
    t = NOW - timedelta(hours=hours_ago)
    return BackupRef(f"db-{t:%Y%m%dT%H%M%S}-{kind}", kind, t, good)


def test_no_failure_and_a_fresh_nightly_lets_prune_run() -> None:
    assert guard_reason([nightly(6), nightly(30)], NOW, 26) is None


def test_a_failure_after_the_newest_good_scheduled_backup_holds_it() -> None:
    reason = guard_reason([nightly(30), nightly(6, "manual")], NOW, 26, last_failure=NOW - timedelta(hours=6))
    assert reason and "latest scheduled backup failed" in reason
    # A manual backup after the failure does not lift it; a good scheduled one does.
    assert guard_reason([nightly(2), nightly(30)], NOW, 26, last_failure=NOW - timedelta(hours=6)) is None


def test_a_bad_scheduled_backup_does_not_count_as_recovery() -> None:
    backups = [nightly(2, good=False), nightly(30)]
    assert guard_reason(backups, NOW, 26, last_failure=NOW - timedelta(hours=6))


def test_a_stalled_schedule_holds_even_without_a_recorded_failure() -> None:
    reason = guard_reason([nightly(40), nightly(64)], NOW, 26)
    assert reason == "the newest good scheduled backup is 40 h old (limit 26 h)"
    assert guard_reason([nightly(40)], NOW, 26, scheduled=False) is None  # schedule = "" (CLI-only)


def test_a_database_that_never_had_a_scheduled_backup_is_not_held_by_age() -> None:
    assert guard_reason([nightly(24 * 40, "manual")], NOW, 26) is None
