"""Which backups to keep: grandfather-father-son as a pure function of the history and a clock.

Pure on purpose: deleting backups is the one irreversible thing this project does, so the
decision is a function that property tests can hammer (see tests/retention/) and that
``prune`` only *executes*. No storage, no clock, no config loading in here.

How kinds count (the policy a reader should be able to predict):

* ``daily`` and ``monthly`` are *scheduled* backups. Only scheduled backups fill the
  calendar rules (daily / weekly / monthly / yearly). The rules bucket by calendar period,
  not by kind: the monthly rule keeps the newest scheduled backup of each month whatever
  its kind, so a deployment that only ever takes ``daily`` backups still gets its monthly
  grandfathers, and a ``monthly``-kind backup also counts as that day's daily.
* ``manual`` and the pre-event kinds (``pre-migration``, ``pre-deploy``, ``pre-infra``,
  ``pre-restore``) are taken for a reason a person knows about; they are kept for
  ``pre_event_days`` after they were taken, and never fill a calendar slot. A manual dump
  therefore never pushes a nightly out of the daily rule.
* Each calendar rule keeps the newest good scheduled backup of each of the newest N
  *distinct* periods that have one (restic's ``--keep-daily`` semantics). Counting periods
  that have a backup, rather than the last N calendar days, means a schedule that stopped
  for a week still leaves N dailies behind instead of none.
* A backup known to be bad (``good=False``, e.g. a failed verification) never fills a
  calendar slot: it would occupy the day and push a usable backup out.
* The newest good backup of any kind is always kept, whatever the policy says.
* A kind this version does not know (written by a newer one) is kept: deleting what we
  do not understand is the one mistake retention must not make.

Periods are calendar periods in the database's time zone (the one its schedule runs in),
so a 23:30 local nightly belongs to the local day it was taken on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo

from core.config import PRE_EVENT_KINDS, RetentionPolicy
from core.i18n import _

SCHEDULED_KINDS = ("daily", "monthly")
EVENT_KINDS = ("manual", *PRE_EVENT_KINDS)

# Rule names, as they appear in prune output and in --json.
DAILY = "daily"
WEEKLY = "weekly"
MONTHLY = "monthly"
YEARLY = "yearly"
PRE_EVENT = "pre-event"
NEWEST_GOOD = "newest-good"
UNKNOWN_KIND = "unknown-kind"
CALENDAR_RULES = (DAILY, WEEKLY, MONTHLY, YEARLY)


@dataclass(frozen=True)
class BackupRef:
    """What retention needs to know about one backup (a manifest has all of it)."""

    id: str
    kind: str
    created_at: datetime  # timezone-aware
    good: bool = True


@dataclass(frozen=True)
class Reason:
    """One rule that keeps a backup, with the period it stands for (e.g. monthly 2026-01)."""

    rule: str
    period: str

    def __str__(self) -> str:
        return f"{self.rule} {self.period}" if self.period else self.rule


@dataclass(frozen=True)
class Decision:
    backup: BackupRef
    keep: bool
    reasons: tuple[Reason, ...] = field(default=())

    @property
    def rules(self) -> tuple[str, ...]:
        return tuple(r.rule for r in self.reasons)

    def explain(self) -> str:
        return ", ".join(reason_text(str(r)) for r in self.reasons) if self.reasons else _("no rule keeps it")


def reason_text(reason: str) -> str:
    """A kept backup's rule as a person reads it: the rule id stays (it is the setting's word),
    the words around a date are translated. ``str(Reason)`` itself stays the stable id."""
    rule, sep, rest = reason.partition(" until ")
    if sep and rest.endswith(" UTC"):
        return _("{rule} until {at} UTC").format(rule=rule, at=rest.removesuffix(" UTC"))
    return reason


def _day(t: datetime) -> str:
    return t.strftime("%Y-%m-%d")


def _week(t: datetime) -> str:
    iso = t.isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


def _month(t: datetime) -> str:
    return t.strftime("%Y-%m")


def _year(t: datetime) -> str:
    return t.strftime("%Y")


_PERIODS: dict[str, Callable[[datetime], str]] = {
    DAILY: _day,
    WEEKLY: _week,
    MONTHLY: _month,
    YEARLY: _year,
}


def _newest_first(backups: Iterable[BackupRef]) -> list[BackupRef]:
    # created_at then id: a total order, so ties never depend on the order of the input.
    return sorted(backups, key=lambda b: (b.created_at, b.id), reverse=True)


def plan_retention(
    backups: Sequence[BackupRef],
    policy: RetentionPolicy,
    now: datetime,
    tz: tzinfo = UTC,
) -> list[Decision]:
    """Keep/delete for every backup of ONE database, newest first, each kept one with its rules."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    ordered = _newest_first(backups)
    ids = [b.id for b in ordered]
    if len(set(ids)) != len(ids):
        raise ValueError("backup ids must be unique")
    reasons: dict[str, list[Reason]] = {b.id: [] for b in ordered}

    newest_good = next((b for b in ordered if b.good), None)
    if newest_good is not None:
        reasons[newest_good.id].append(Reason(NEWEST_GOOD, ""))

    limits = {
        DAILY: policy.daily,
        WEEKLY: policy.weekly,
        MONTHLY: policy.monthly,
        YEARLY: policy.yearly,
    }
    scheduled = [b for b in ordered if b.good and b.kind in SCHEDULED_KINDS]
    for rule in CALENDAR_RULES:
        limit = limits[rule]
        if limit <= 0:
            continue
        period_of = _PERIODS[rule]
        seen: set[str] = set()
        for b in scheduled:  # newest first: the first one met in a period is that period's newest
            period = period_of(b.created_at.astimezone(tz))
            if period in seen:
                continue
            seen.add(period)
            reasons[b.id].append(Reason(rule, period))
            if len(seen) >= limit:
                break

    if policy.pre_event_days > 0:
        window = timedelta(days=policy.pre_event_days)
        for b in ordered:
            if b.kind in EVENT_KINDS and now - b.created_at < window:
                # UTC, like every other time in prune's output: a bare local time beside a
                # UTC creation time reads as a window hours shorter or longer than it is.
                until = (b.created_at + window).astimezone(UTC)
                reasons[b.id].append(Reason(PRE_EVENT, f"until {until:%Y-%m-%d %H:%M} UTC"))

    for b in ordered:
        if b.kind not in SCHEDULED_KINDS and b.kind not in EVENT_KINDS:
            reasons[b.id].append(Reason(UNKNOWN_KIND, b.kind))

    return [Decision(b, bool(reasons[b.id]), tuple(reasons[b.id])) for b in ordered]
