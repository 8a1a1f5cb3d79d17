"""Prune: the retention decision, checked against reality, then (only if asked) executed.

Three things stand between the pure retention plan and a deletion, each because of a way
backups have been lost elsewhere:

* The pruning guard. When the nightly is failing, the old backups are the only good ones
  left; rotating them out on schedule would leave the team with nothing. So if the latest
  scheduled run of a database failed and no good scheduled backup was taken after that
  failure — or the newest good scheduled backup is older than ``max_age_hours`` — prune
  deletes nothing and says why. It resumes by itself after the next good scheduled backup.
* Object Lock. On a bucket with Object Lock a DELETE without a version id "succeeds" by
  adding a delete marker: the manifest would vanish from listings while the data stays
  retained and billed. So where Object Lock is possible (configured in backupbot.toml or
  enabled on the bucket) each candidate's retain-until date is read (storage ``head``,
  several at once) and a locked backup is reported kept, "locked until …", instead of
  half-deleted. Where it is not, no HEAD is made: at thousands of backups they were
  most of prune's time.
* Dry run by default: ``plan_prune`` never deletes; ``apply_prune`` deletes what a plan
  marked in batches, every manifest first, then the objects
  (``engine.catalog.delete_backups``), so a half-deleted backup is never listed as good.

The same listing also names the leftovers: objects more than a day old with no manifest
beside them (a dump whose manifest could not be written, an interrupted delete;
``engine.uploads.orphans``). They are not backups, so neither the guard nor Object Lock
is about them; ``apply_prune`` deletes them too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from adapters.storage import Storage, open_storage
from adapters.storage.base import ObjectInfo
from core.config import Config
from core.errors import BackupbotError, NotFoundError
from core.i18n import _, ngettext
from core.redact import redact
from engine.manifest import Manifest
from engine.retention import SCHEDULED_KINDS, BackupRef, Decision, plan_retention, reason_text
from engine.uploads import DELETED as ORPHAN_DELETED
from engine.uploads import FAILED as ORPHAN_FAILED
from engine.uploads import Orphan, delete_orphans, orphans

KEEP = "keep"
DELETE = "delete"
LOCKED = "locked"
DELETED = "deleted"
FAILED = "failed"
LOCK_READERS = 6  # HEADs under way at once when Object Lock is possible


@dataclass(frozen=True)
class PruneItem:
    manifest: Manifest
    action: str  # keep | delete | locked (plan); deleted | failed (after apply)
    reasons: tuple[str, ...] = ()
    locked_until: datetime | None = None
    error: str = ""

    @property
    def backup_id(self) -> str:
        return str(self.manifest.id)

    def explain(self) -> str:
        """Why it is kept or goes, as a person reads it (``reasons`` keep the rule ids)."""
        if self.action == LOCKED and self.locked_until is not None:
            return _("locked until {at} UTC").format(at=f"{self.locked_until:%Y-%m-%d %H:%M}")
        if self.action == FAILED:
            return _("delete failed: {error}").format(error=self.error)
        if self.reasons:
            return ", ".join(_reason_text(r) for r in self.reasons)
        return _("no rule keeps it")

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.backup_id,
            "kind": self.manifest.kind,
            "created_at": self.manifest.created_at.astimezone(UTC).isoformat(),
            "action": self.action,
            "kept": self.action in (KEEP, LOCKED) or (self.action == FAILED),
            "rules": list(self.reasons),
            "locked_until": self.locked_until.isoformat() if self.locked_until else None,
            "explain": self.explain(),
        }


@dataclass(frozen=True)
class PrunePlan:
    database: str
    now: datetime
    items: tuple[PruneItem, ...]
    guard: str | None = None  # why nothing is deleted, when the guard tripped
    applied: bool = False
    orphans: tuple[Orphan, ...] = ()  # objects a day old without a manifest: deleted on apply

    @property
    def to_delete(self) -> list[PruneItem]:
        return [i for i in self.items if i.action == DELETE]

    @property
    def deleted(self) -> list[PruneItem]:
        return [i for i in self.items if i.action == DELETED]

    @property
    def failed(self) -> list[PruneItem]:
        return [i for i in self.items if i.action == FAILED]

    def as_dict(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "now": self.now.isoformat(),
            "applied": self.applied,
            "guard": self.guard,
            "backups": [i.as_dict() for i in self.items],
            "orphans": [o.as_dict() for o in self.orphans],
        }


def _good(manifest: Manifest) -> bool:
    # A manifest exists only for a complete upload; a later verification may mark it bad.
    return getattr(manifest, "good", True) is not False


def backup_ref(manifest: Manifest) -> BackupRef:
    return BackupRef(id=manifest.id, kind=manifest.kind, created_at=manifest.created_at, good=_good(manifest))


def guard_reason(
    backups: Sequence[BackupRef],
    now: datetime,
    max_age_hours: float,
    last_failure: datetime | None = None,
    scheduled: bool = True,
) -> str | None:
    """Why pruning must not run now, or None. Pure, so the rule is testable without a bucket.

    ``last_failure`` is when the latest failed scheduled run of this database ended (from
    the job store). The guard trips when no good scheduled backup is newer than it, or
    when the schedule has stopped producing good backups for longer than ``max_age_hours``.
    A database that has never had a scheduled backup (CLI-only use) is not held back by
    the age rule: there is no rotation for a stalled schedule to protect.
    """
    good_scheduled = [b.created_at for b in backups if b.good and b.kind in SCHEDULED_KINDS]
    newest = max(good_scheduled, default=None)
    if last_failure is not None and (newest is None or newest <= last_failure):
        return _(
            "the latest scheduled backup failed ({at} UTC) and no good scheduled backup has been taken since"
        ).format(at=f"{last_failure:%Y-%m-%d %H:%M}")
    if scheduled and newest is not None and now - newest > timedelta(hours=max_age_hours):
        hours = (now - newest).total_seconds() / 3600
        return _("the newest good scheduled backup is {hours} h old (limit {limit} h)").format(
            hours=f"{hours:.0f}", limit=f"{max_age_hours:g}"
        )
    return None


LockReader = Callable[[Manifest], datetime | None]
GUARD_RULE = "pruning guard"  # a rule id in --json's "rules", like the retention rules


def _reason_text(reason: str) -> str:
    """A rule id of ``PruneItem.reasons`` as shown: the guard and the lock in words, retention's own."""
    if reason == GUARD_RULE:
        return _("pruning guard")
    if reason.startswith("locked until "):
        return _("locked until {at}").format(at=reason.removeprefix("locked until "))
    return reason_text(reason)


def storage_lock_reader(storage: Storage) -> LockReader:
    """Reads the retain-until date of a backup's object and manifest (the later one wins)."""

    def read(manifest: Manifest) -> datetime | None:
        until: datetime | None = None
        for key in (manifest.manifest_key, manifest.key):
            try:
                head = storage.head(key)
            except NotFoundError:
                continue
            value = head.get("object_lock_retain_until")
            if value is not None:
                value = value.astimezone(UTC)
                if until is None or value > until:
                    until = value
        return until

    return read


def build_plan(
    database: str,
    manifests: Sequence[Manifest],
    decisions: Sequence[Decision],
    now: datetime,
    guard: str | None,
    lock_of: LockReader | None = None,
    leftovers: Sequence[Orphan] = (),
) -> PrunePlan:
    by_id = {str(m.id): m for m in manifests}
    candidates = [by_id[d.backup.id] for d in decisions if not d.keep]
    locks: dict[str, datetime | None] = {}
    if lock_of is not None and candidates:
        with ThreadPoolExecutor(max_workers=min(LOCK_READERS, len(candidates))) as pool:
            locks = dict(zip((m.id for m in candidates), pool.map(lock_of, candidates), strict=True))
    items = []
    for d in decisions:
        manifest = by_id[d.backup.id]
        reasons = tuple(str(r) for r in d.reasons)
        if d.keep:
            items.append(PruneItem(manifest, KEEP, reasons))
            continue
        until = locks.get(manifest.id)
        if until is not None and until > now:
            items.append(PruneItem(manifest, LOCKED, (f"locked until {until:%Y-%m-%d %H:%M} UTC",), until))
        elif guard:
            items.append(PruneItem(manifest, KEEP, (GUARD_RULE,)))
        else:
            items.append(PruneItem(manifest, DELETE))
    return PrunePlan(database, now, tuple(items), guard, orphans=tuple(leftovers))


def plan_prune(
    cfg: Config,
    database: str,
    now: datetime | None = None,
    last_failure: datetime | None = None,
    lock_of: LockReader | None = None,
    storage: Storage | None = None,
) -> PrunePlan:
    """What prune would do to one database now; deletes nothing."""
    from engine import catalog

    db = cfg.database(database)
    now = now or datetime.now(UTC)
    storage = storage or open_storage(cfg.storage)
    listed: list[ObjectInfo] = []
    manifests = catalog.list_backups(cfg, database, storage, seen=listed)
    refs = [backup_ref(m) for m in manifests]
    decisions = plan_retention(refs, db.retention, now, ZoneInfo(db.timezone))
    guard = guard_reason(refs, now, db.max_age_hours, last_failure, scheduled=bool(db.schedule.strip()))
    if lock_of is None and any(not d.keep for d in decisions) and storage.object_lock_possible():
        lock_of = storage_lock_reader(storage)
    return build_plan(database, manifests, decisions, now, guard, lock_of, orphans(listed, now))


def apply_prune(cfg: Config, plan: PrunePlan, storage: Storage | None = None) -> PrunePlan:
    """Delete what ``plan`` marked for deletion, manifests first; one failure does not stop the rest.

    The leftovers without a manifest go too, guard or not: they are not backups.
    """
    from engine import catalog

    if not plan.orphans and (plan.guard or not plan.to_delete):
        return replace(plan, applied=True)
    storage = storage or open_storage(cfg.storage)
    left = tuple(delete_orphans(storage, [replace(o) for o in plan.orphans]))
    if plan.guard or not plan.to_delete:
        return replace(plan, applied=True, orphans=left)
    try:
        failed = catalog.delete_backups(cfg, [i.manifest for i in plan.to_delete], storage)
    except BackupbotError as err:
        failed = {i.backup_id: err.message for i in plan.to_delete}
    items = []
    for item in plan.items:
        if item.action != DELETE:
            items.append(item)
        elif item.backup_id in failed:
            items.append(replace(item, action=FAILED, error=redact(failed[item.backup_id])))
        else:
            items.append(replace(item, action=DELETED))
    return replace(plan, items=tuple(items), applied=True, orphans=left)


@dataclass
class PruneSummary:
    """Counts for a one-line report (Slack, job result, CLI footer)."""

    database: str
    kept: int = 0
    deleted: int = 0
    would_delete: int = 0
    locked: int = 0
    failed: int = 0
    guard: str | None = None
    ids_deleted: list[str] = field(default_factory=list)
    orphans_found: int = 0  # leftovers without a manifest, not deleted (dry run)
    orphans_deleted: int = 0
    orphans_failed: int = 0

    @classmethod
    def of(cls, plan: PrunePlan) -> PruneSummary:
        s = cls(plan.database, guard=plan.guard)
        for i in plan.items:
            if i.action == KEEP:
                s.kept += 1
            elif i.action == LOCKED:
                s.locked += 1
            elif i.action == DELETE:
                s.would_delete += 1
            elif i.action == DELETED:
                s.deleted += 1
                s.ids_deleted.append(i.backup_id)
            elif i.action == FAILED:
                s.failed += 1
        for o in plan.orphans:
            if o.action == ORPHAN_DELETED:
                s.orphans_deleted += 1
            elif o.action == ORPHAN_FAILED:
                s.orphans_failed += 1
            else:
                s.orphans_found += 1
        return s

    def _orphan_parts(self) -> list[str]:
        parts = []
        if self.orphans_found:
            parts.append(
                ngettext(
                    "{n} leftover object without a manifest would be deleted (dry run)",
                    "{n} leftover objects without a manifest would be deleted (dry run)",
                    self.orphans_found,
                ).format(n=self.orphans_found)
            )
        if self.orphans_deleted:
            parts.append(
                ngettext(
                    "{n} leftover object without a manifest deleted",
                    "{n} leftover objects without a manifest deleted",
                    self.orphans_deleted,
                ).format(n=self.orphans_deleted)
            )
        if self.orphans_failed:
            parts.append(
                ngettext(
                    "{n} leftover object without a manifest could not be deleted",
                    "{n} leftover objects without a manifest could not be deleted",
                    self.orphans_failed,
                ).format(n=self.orphans_failed)
            )
        return parts

    def line(self) -> str:
        if self.guard:
            text = _("{db}: pruning guard — nothing deleted: {why}.").format(db=self.database, why=self.guard)
            extra = self._orphan_parts()
            return text + (" " + "; ".join(extra) + "." if extra else "")
        parts = [ngettext("{n} kept", "{n} kept", self.kept).format(n=self.kept)]
        if self.locked:
            parts.append(ngettext("{n} locked", "{n} locked", self.locked).format(n=self.locked))
        if self.would_delete:
            parts.append(
                ngettext(
                    "{n} would be deleted (dry run)", "{n} would be deleted (dry run)", self.would_delete
                ).format(n=self.would_delete)
            )
        if self.deleted:
            parts.append(ngettext("{n} deleted", "{n} deleted", self.deleted).format(n=self.deleted))
        if not self.would_delete and not self.deleted and not self.failed:
            parts.append(_("nothing to delete"))
        if self.failed:
            parts.append(
                ngettext("{n} failed to delete", "{n} failed to delete", self.failed).format(n=self.failed)
            )
        parts += self._orphan_parts()
        return f"{self.database}: " + ", ".join(parts)
