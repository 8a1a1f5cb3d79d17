"""Hand-picked histories whose right answer a person can check by reading them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.config import RetentionPolicy
from engine.retention import BackupRef, plan_retention


def nightly(start: datetime, days: int, kind: str = "daily") -> list[BackupRef]:
    out = []
    for i in range(days):
        t = start + timedelta(days=i)
        out.append(BackupRef(f"prod-{t:%Y%m%dT%H%M%SZ}-{kind}", kind, t))
    return out


def kept(decisions) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    return {d.backup.id: [str(r) for r in d.reasons] for d in decisions if d.keep}


def test_forty_nightlies_leave_seven_dailies_and_two_monthlies() -> None:
    history = nightly(datetime(2026, 1, 1, 3, tzinfo=UTC), 40)  # Jan 1 .. Feb 9
    now = datetime(2026, 2, 9, 3, 5, tzinfo=UTC)
    result = kept(plan_retention(history, RetentionPolicy(), now))
    assert sorted(result) == sorted(
        [f"prod-202602{d:02d}T030000Z-daily" for d in range(3, 10)] + ["prod-20260131T030000Z-daily"]
    )
    assert result["prod-20260209T030000Z-daily"] == ["newest-good", "daily 2026-02-09", "monthly 2026-02"]
    assert result["prod-20260131T030000Z-daily"] == ["monthly 2026-01"]


def test_manual_and_pre_event_dumps_do_not_push_nightlies_out() -> None:
    start = datetime(2026, 3, 1, 3, tzinfo=UTC)
    history = nightly(start, 10)
    extra = [
        BackupRef("prod-20260310T120000Z-manual", "manual", datetime(2026, 3, 10, 12, tzinfo=UTC)),
        BackupRef(
            "prod-20260309T150000Z-pre-migration", "pre-migration", datetime(2026, 3, 9, 15, tzinfo=UTC)
        ),
        BackupRef("prod-20260101T150000Z-pre-deploy", "pre-deploy", datetime(2026, 1, 1, 15, tzinfo=UTC)),
    ]
    now = datetime(2026, 3, 10, 13, tzinfo=UTC)
    result = kept(plan_retention(history + extra, RetentionPolicy(daily=3, monthly=0), now))
    # The manual dump is the newest good backup and is kept for 30 days, but the three
    # dailies are still the three newest nightlies.
    assert [r for r in result if r.endswith("-daily")] == [
        "prod-20260310T030000Z-daily",
        "prod-20260309T030000Z-daily",
        "prod-20260308T030000Z-daily",
    ]
    assert result["prod-20260310T120000Z-manual"][0] == "newest-good"
    assert result["prod-20260309T150000Z-pre-migration"] == ["pre-event until 2026-04-08 15:00 UTC"]
    assert "prod-20260101T150000Z-pre-deploy" not in result  # older than 30 days


def test_newest_good_backup_survives_a_policy_of_zeros() -> None:
    history = nightly(datetime(2026, 1, 1, 3, tzinfo=UTC), 5)
    policy = RetentionPolicy(daily=0, weekly=0, monthly=0, yearly=0, pre_event_days=0)
    result = kept(plan_retention(history, policy, datetime(2026, 6, 1, tzinfo=UTC)))
    assert result == {"prod-20260105T030000Z-daily": ["newest-good"]}


def test_a_bad_backup_does_not_take_a_days_slot() -> None:
    history = nightly(datetime(2026, 1, 1, 3, tzinfo=UTC), 3)
    bad = BackupRef("prod-20260103T040000Z-daily", "daily", datetime(2026, 1, 3, 4, tzinfo=UTC), good=False)
    result = kept(
        plan_retention([*history, bad], RetentionPolicy(daily=1, monthly=0), history[-1].created_at)
    )
    assert result == {"prod-20260103T030000Z-daily": ["newest-good", "daily 2026-01-03"]}


def test_days_are_counted_in_the_databases_time_zone() -> None:
    # 23:30 in Panama is 04:30 UTC the next day; the two backups are different local days.
    panama = ZoneInfo("America/Panama")
    a = BackupRef("a", "daily", datetime(2026, 1, 1, 23, 30, tzinfo=panama))
    b = BackupRef("b", "daily", datetime(2026, 1, 2, 0, 30, tzinfo=panama))
    now = datetime(2026, 1, 3, tzinfo=UTC)
    assert set(kept(plan_retention([a, b], RetentionPolicy(daily=2, monthly=0), now, panama))) == {"a", "b"}
    # In UTC both fall on January 2nd, so one daily slot covers both.
    assert set(kept(plan_retention([a, b], RetentionPolicy(daily=2, monthly=0), now, UTC))) == {"b"}


def test_a_stopped_schedule_still_leaves_n_dailies() -> None:
    history = nightly(datetime(2026, 1, 1, 3, tzinfo=UTC), 10)
    much_later = datetime(2026, 5, 1, tzinfo=UTC)
    result = kept(plan_retention(history, RetentionPolicy(daily=7, monthly=2), much_later))
    assert len([r for r in result.values() if any(x.startswith("daily") for x in r)]) == 7


def test_weekly_and_yearly_rules() -> None:
    history = nightly(datetime(2024, 12, 20, 3, tzinfo=UTC), 30)  # Dec 20 2024 .. Jan 18 2025
    policy = RetentionPolicy(daily=0, weekly=2, monthly=0, yearly=2, pre_event_days=0)
    result = kept(plan_retention(history, policy, datetime(2025, 1, 18, 4, tzinfo=UTC)))
    assert result == {
        "prod-20250118T030000Z-daily": ["newest-good", "weekly 2025-W03", "yearly 2025"],
        "prod-20250112T030000Z-daily": ["weekly 2025-W02"],
        "prod-20241231T030000Z-daily": ["yearly 2024"],
    }


def test_unknown_kinds_are_kept_and_naive_clocks_refused() -> None:
    odd = BackupRef("x", "hourly", datetime(2020, 1, 1, tzinfo=UTC))
    newer = BackupRef("y", "daily", datetime(2021, 1, 1, tzinfo=UTC))
    result = kept(plan_retention([odd, newer], RetentionPolicy(), datetime(2026, 1, 1, tzinfo=UTC)))
    assert result["x"] == ["unknown-kind hourly"]
    with pytest.raises(ValueError):
        plan_retention([odd], RetentionPolicy(), datetime(2026, 1, 1))


def test_pre_event_window_end_is_shown_in_utc_whatever_the_database_time_zone() -> None:
    """prune prints created times in UTC; the window's end beside it must not be a bare local time."""
    made = datetime(2026, 3, 9, 15, tzinfo=UTC)
    history = [BackupRef("prod-20260309T150000Z-pre-deploy", "pre-deploy", made)]
    decisions = plan_retention(
        history, RetentionPolicy(), made + timedelta(hours=1), tz=ZoneInfo("America/Panama")
    )
    assert kept(decisions)["prod-20260309T150000Z-pre-deploy"] == [
        "newest-good",
        "pre-event until 2026-04-08 15:00 UTC",
    ]
