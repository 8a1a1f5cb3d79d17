"""Properties of the retention function over random histories.

Deleting is irreversible, so the guarantees are checked over thousands of generated
histories, not just the hand-picked examples in test_retention_examples.py.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from core.config import BACKUP_KINDS, RetentionPolicy
from engine.retention import (
    _PERIODS,
    CALENDAR_RULES,
    EVENT_KINDS,
    NEWEST_GOOD,
    PRE_EVENT,
    SCHEDULED_KINDS,
    BackupRef,
    plan_retention,
)

START = datetime(2024, 1, 1, tzinfo=UTC)
ZONES = [UTC, ZoneInfo("America/Panama"), ZoneInfo("Asia/Kolkata"), ZoneInfo("Pacific/Kiritimati")]


@st.composite
def histories(draw: st.DrawFn) -> list[BackupRef]:
    n = draw(st.integers(min_value=0, max_value=60))
    minutes = draw(st.lists(st.integers(0, 3 * 365 * 24 * 60), min_size=n, max_size=n))
    out = []
    for i, m in enumerate(minutes):
        kind = draw(st.sampled_from(BACKUP_KINDS))
        good = draw(st.integers(0, 5)) > 0  # mostly good, sometimes a failed verification
        out.append(
            BackupRef(id=f"db-{i:04d}-{kind}", kind=kind, created_at=START + timedelta(minutes=m), good=good)
        )
    return out


policies = st.builds(
    RetentionPolicy,
    daily=st.integers(0, 10),
    weekly=st.integers(0, 6),
    monthly=st.integers(0, 6),
    yearly=st.integers(0, 3),
    pre_event_days=st.integers(0, 90),
)


def _now(history: list[BackupRef], extra_hours: int) -> datetime:
    newest = max((b.created_at for b in history), default=START)
    return newest + timedelta(hours=extra_hours)


common = given(
    history=histories(),
    policy=policies,
    extra_hours=st.integers(0, 24 * 120),
    tz=st.sampled_from(ZONES),
)


@settings(max_examples=400)
@common
def test_newest_good_backup_is_always_kept(history, policy, extra_hours, tz) -> None:
    decisions = plan_retention(history, policy, _now(history, extra_hours), tz)
    good = [b for b in history if b.good]
    if good:
        newest = max(good, key=lambda b: (b.created_at, b.id))
        by_id = {d.backup.id: d for d in decisions}
        assert by_id[newest.id].keep
        assert NEWEST_GOOD in by_id[newest.id].rules
    assert sum(NEWEST_GOOD in d.rules for d in decisions) == (1 if good else 0)


@settings(max_examples=400)
@common
def test_no_rule_keeps_more_than_the_policy_allows(history, policy, extra_hours, tz) -> None:
    now = _now(history, extra_hours)
    decisions = plan_retention(history, policy, now, tz)
    counts = Counter(rule for d in decisions for rule in d.rules)
    for rule in CALENDAR_RULES:
        assert counts[rule] <= getattr(policy, rule), rule
    # One backup per period and rule: a rule never keeps two backups of the same day/week/month/year.
    for rule in CALENDAR_RULES:
        periods = [r.period for d in decisions for r in d.reasons if r.rule == rule]
        assert len(periods) == len(set(periods))
    # pre-event keeps only event kinds, only inside the window.
    for d in decisions:
        if PRE_EVENT in d.rules:
            assert d.backup.kind in EVENT_KINDS
            assert now - d.backup.created_at < timedelta(days=policy.pre_event_days)
    # Nothing beyond the rules: kept <= newest-good + sum of calendar limits + event kinds in window.
    in_window = sum(
        1
        for b in history
        if b.kind in EVENT_KINDS and now - b.created_at < timedelta(days=policy.pre_event_days)
    )
    limit = 1 + policy.daily + policy.weekly + policy.monthly + policy.yearly + in_window
    assert sum(d.keep for d in decisions) <= limit


@settings(max_examples=400)
@common
def test_every_kept_backup_has_a_reason_and_every_deleted_one_has_none(
    history, policy, extra_hours, tz
) -> None:
    decisions = plan_retention(history, policy, _now(history, extra_hours), tz)
    assert sorted(d.backup.id for d in decisions) == sorted(b.id for b in history)
    for d in decisions:
        assert d.keep == bool(d.reasons)
        assert d.explain()


@settings(max_examples=300)
@given(
    history=histories(),
    policy=policies,
    extra_hours=st.integers(0, 24 * 120),
    tz=st.sampled_from(ZONES),
    data=st.data(),
)
def test_result_does_not_depend_on_input_order(history, policy, extra_hours, tz, data) -> None:
    now = _now(history, extra_hours)
    shuffled = data.draw(st.permutations(history))
    a = {d.backup.id: (d.keep, d.reasons) for d in plan_retention(history, policy, now, tz)}
    b = {d.backup.id: (d.keep, d.reasons) for d in plan_retention(shuffled, policy, now, tz)}
    assert a == b


@settings(max_examples=300)
@common
def test_calendar_rules_keep_the_newest_good_scheduled_backup_of_the_newest_periods(
    history, policy, extra_hours, tz
) -> None:
    """Not just 'at most N': exactly min(N, periods available), each its period's newest."""
    decisions = plan_retention(history, policy, _now(history, extra_hours), tz)
    eligible = sorted(
        (b for b in history if b.good and b.kind in SCHEDULED_KINDS),
        key=lambda b: (b.created_at, b.id),
        reverse=True,
    )
    for rule in CALENDAR_RULES:
        period_of = _PERIODS[rule]
        newest_per_period: dict[str, str] = {}
        for b in eligible:
            newest_per_period.setdefault(period_of(b.created_at.astimezone(tz)), b.id)
        expected_periods = sorted(newest_per_period, reverse=True)[: getattr(policy, rule)]
        kept = {r.period: d.backup.id for d in decisions for r in d.reasons if r.rule == rule}
        assert sorted(kept, reverse=True) == expected_periods
        for period, backup_id in kept.items():
            assert newest_per_period[period] == backup_id
    # Bad backups and event kinds never fill a calendar slot.
    for d in decisions:
        if set(d.rules) & set(CALENDAR_RULES):
            assert d.backup.good and d.backup.kind in SCHEDULED_KINDS
