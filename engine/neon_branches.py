"""Neon backup branches: make one, list them, and decide which have outlived their policy.

A backup branch is the Neon runbook's "neonctl branches create backup-YYYYMMDD", done so
it can be trusted later: no compute endpoint (nothing to pay for or connect to by
mistake), an ``expires_at`` from the database's ``pre_event_days`` so Neon deletes it on
its own, and who / why / kind / git sha written on the branch itself as its annotation,
so the list is rebuilt from Neon alone the way dumps are listed from the bucket. A create
that timed out may have worked: the branch is looked up by name and adopted before
anything is sent again, so a retry never makes two.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from adapters.neon import NeonClient, NeonConflict, NeonUnknownOutcome
from core.config import Config, DatabaseConfig
from core.errors import UsageError
from core.i18n import _, pgettext

MARK = "backupbot"  # annotation key present on every branch this bot made
PRESERVED_PREFIX = "pre-restore-"
BRANCH_KINDS = ("manual", "pre-migration", "pre-deploy", "pre-infra")


def iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str, what: str = "--at") -> datetime:
    """RFC 3339 / ISO 8601; a time without zone is UTC."""
    try:
        at = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            _("{what} {text} is not a timestamp").format(what=what, text=repr(text)),
            hint=_("Write it as 2026-01-31T14:05:00Z (UTC)."),
        ) from None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


@dataclass(frozen=True)
class BackupBranch:
    id: str
    name: str
    parent_id: str
    parent_name: str
    point_in_time: str  # parent_timestamp, or "head at creation"
    created_at: datetime
    size_bytes: int
    expires_at: str
    requested_by: str
    reason: str
    kind: str
    git_sha: str
    made_by_bot: bool
    preserved: bool  # a pre-restore branch a restore left behind
    keep: bool = False  # made with --keep: no expiry, never pruned

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "parent": self.parent_name or self.parent_id,
            "parent_id": self.parent_id,
            "point_in_time": self.point_in_time,
            "created_at": iso(self.created_at),
            "size_bytes": self.size_bytes,
            "expires_at": self.expires_at or None,
            "requested_by": self.requested_by,
            "reason": self.reason,
            "kind": self.kind,
            "git_sha": self.git_sha,
            "preserved": self.preserved,
        }


def pick_neon_database(cfg: Config, name: str | None, usage: str) -> str:
    """The named database if it is on Neon, or the only one on Neon; a usage error naming the choices."""
    on_neon = sorted(n for n, d in cfg.databases.items() if d.neon_project_id)
    if name is None:
        if len(on_neon) == 1:
            return on_neon[0]
        raise UsageError(
            _("which database?"),
            detail=_("Databases on Neon: {names}.").format(
                names=", ".join(on_neon) or pgettext("databases", "none")
            ),
            hint=_("Usage: `{usage}`").format(usage=usage),
        )
    db = cfg.database(name)
    if not db.neon_project_id:
        raise UsageError(
            _("database '{name}' is not on Neon").format(name=name),
            detail=_("Databases on Neon: {names}.").format(
                names=", ".join(on_neon) or pgettext("databases", "none")
            ),
            hint=_('Add neon_project_id = "…" under [databases.{name}] in {path}.').format(
                name=name, path=cfg.path
            ),
        )
    return name


def neon_db(cfg: Config, database: str) -> tuple[DatabaseConfig, NeonClient]:
    db = cfg.database(database)
    return db, NeonClient.for_database(cfg, db)


def resolve_branch(client: NeonClient, db: DatabaseConfig, ref: str | None = None) -> dict[str, Any]:
    """A branch by name or br- id; without one, the database's own branch (``neon_branch`` or the default)."""
    pid = db.neon_project_id
    want = ref if ref is not None else db.neon_branch
    branches, _notes = client.branches(pid)
    if not want:
        found = next((b for b in branches if b.get("default")), None)
    else:
        found = next((b for b in branches if b["id"] == want), None) or next(
            (b for b in branches if b["name"] == want), None
        )
    if found is None:
        names = ", ".join(sorted(b["name"] for b in branches)[:15]) or pgettext("branches", "none")
        raise UsageError(
            _("Neon project '{project}' has no branch '{branch}'").format(project=pid, branch=want)
            if want
            else _("Neon project '{project}' has no default branch").format(project=pid),
            detail=_("Branches there: {names}.").format(names=names),
            hint=_(
                "`/backup branches {db}` lists them; neon_branch in [databases.{db}] names the database's own."
            ).format(db=db.name),
        )
    return found


def history_window(client: NeonClient, pid: str, now: datetime) -> tuple[datetime, datetime]:
    seconds = int(client.project(pid).get("history_retention_seconds", 0) or 0)
    return now - timedelta(seconds=seconds), now


def check_in_window(client: NeonClient, db: DatabaseConfig, at: datetime, now: datetime) -> None:
    start, end = history_window(client, db.neon_project_id, now)
    if not (start <= at <= end):
        raise UsageError(
            _("{at} is outside the history window of Neon project '{project}'").format(
                at=iso(at), project=db.neon_project_id
            ),
            detail=_("Neon keeps history for '{db}' from {start} to now ({end}).").format(
                db=db.name, start=iso(start), end=iso(end)
            ),
            hint=_("Pick a moment inside that window, or branch from a snapshot or an older backup branch."),
        )


def _annotation(
    kind: str, reason: str, requested_by: str, git_sha: str, database: str, made: datetime, keep: bool = False
) -> dict[str, str]:
    value = {
        MARK: "1",
        f"{MARK}-database": database,
        f"{MARK}-kind": kind,
        f"{MARK}-by": requested_by[:200],
        f"{MARK}-reason": reason[:500],
        f"{MARK}-made": iso(made),
    }
    if git_sha:
        value[f"{MARK}-git-sha"] = git_sha[:64]
    if keep:
        value[f"{MARK}-keep"] = "1"
    return value


def create_backup_branch(
    cfg: Config,
    database: str,
    *,
    name: str | None = None,
    at: datetime | None = None,
    kind: str = "manual",
    reason: str = "",
    requested_by: str = "cli",
    git_sha: str = "",
    keep: bool = False,
    now: datetime | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> BackupBranch:
    """Create (or, after a lost answer, adopt) the backup branch and return it once Neon says ready."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    db, client = neon_db(cfg, database)
    pid = db.neon_project_id
    parent = resolve_branch(client, db)
    if at is not None:
        check_in_window(client, db, at, now)
    existing, _notes = client.branches(pid)
    taken = {b["name"] for b in existing}
    if name:
        if name in taken:
            raise UsageError(
                _("a Neon branch named '{name}' already exists in project '{project}'").format(
                    name=name, project=pid
                ),
                hint=_("Pick another --name, or leave it out for {default}.").format(
                    default=f"backup-{now:%Y%m%d}-N"
                ),
            )
        candidates = [name]
    else:
        base = f"backup-{now:%Y%m%d}"
        candidates = [c for c in [base] + [f"{base}-{i}" for i in range(2, 100)] if c not in taken][:5]
    days = db.retention.pre_event_days
    expires = "" if keep or days <= 0 else iso(now + timedelta(days=days))
    for candidate in candidates:
        branch: dict[str, Any] = {"parent_id": parent["id"], "name": candidate}
        if at is not None:
            branch["parent_timestamp"] = iso(at)
        if expires:
            branch["expires_at"] = expires
        body = {
            "branch": branch,
            "annotation_value": _annotation(kind, reason, requested_by, git_sha, database, now, keep),
        }
        try:
            created = client.create_branch(pid, body)
            ops = created.get("operations", [])
            made = created["branch"]
        except NeonConflict:
            if name:
                raise
            continue  # someone took that name a moment ago: the next suffix
        except NeonUnknownOutcome:
            found = client.branch_named(pid, candidate)
            if found is None:
                created = client.create_branch(pid, body)  # it never arrived: safe to send once more
                ops, made = created.get("operations", []), created["branch"]
            else:
                _branch, note = client.branch(pid, found["id"])
                if note != body["annotation_value"]:  # someone else's branch took the name meanwhile
                    if name:
                        raise UsageError(
                            _(
                                "a Neon branch named '{name}' appeared in project '{project}' while this one was made"
                            ).format(name=name, project=pid),
                            hint=_("Pick another --name; the other branch was left alone."),
                        ) from None
                    continue
                made = found
                ops = client.operations_in_flight(pid, [found["id"]])
        client.wait_operations(pid, ops, on_wait)
        fresh, annotation = client.branch(pid, made["id"])
        return _describe(fresh, annotation, {parent["id"]: parent["name"]})
    raise UsageError(
        _("no free backup branch name for today in project '{project}'").format(project=pid),
        hint=_("Pass --name, or prune old backup branches."),
    )


def _describe(b: dict[str, Any], note: dict[str, str], names: dict[str, str]) -> BackupBranch:
    made = b.get("created_at", "")
    return BackupBranch(
        id=b["id"],
        name=b["name"],
        parent_id=b.get("parent_id", ""),
        parent_name=names.get(b.get("parent_id", ""), ""),
        point_in_time=b.get("parent_timestamp") or "head at creation",
        created_at=datetime.fromisoformat(made.replace("Z", "+00:00")) if made else datetime.now(UTC),
        size_bytes=int(b.get("logical_size", 0) or 0),
        expires_at=b.get("expires_at", "") or "",
        requested_by=note.get(f"{MARK}-by", ""),
        reason=note.get(f"{MARK}-reason", ""),
        kind=note.get(f"{MARK}-kind", "pre-restore" if b["name"].startswith(PRESERVED_PREFIX) else ""),
        git_sha=note.get(f"{MARK}-git-sha", ""),
        made_by_bot=note.get(MARK) == "1",
        preserved=b["name"].startswith(PRESERVED_PREFIX),
        keep=note.get(f"{MARK}-keep") == "1",
    )


@dataclass(frozen=True)
class BranchListing:
    database: str
    project_id: str
    own_branch: dict[str, Any]
    backups: list[BackupBranch]  # newest first
    snapshots: list[dict[str, Any]]


def list_backup_branches(cfg: Config, database: str) -> BranchListing:
    """The branches this bot made and the preserved pre-restore branches, newest first, plus snapshots."""
    db, client = neon_db(cfg, database)
    pid = db.neon_project_id
    branches, notes = client.branches(pid)
    names = {b["id"]: b["name"] for b in branches}
    own = resolve_branch(client, db)
    out = []
    for b in branches:
        note = dict((notes.get(b["id"]) or {}).get("value", {}) or {})
        made_here = note.get(MARK) == "1" and note.get(f"{MARK}-database", database) == database
        if made_here or b["name"].startswith(PRESERVED_PREFIX):
            out.append(_describe(b, note, names))
    out.sort(key=lambda x: x.created_at, reverse=True)
    try:
        snaps = client.snapshots(pid)
    except Exception:  # noqa: BLE001 - snapshots are beta; a project without them still lists branches
        snaps = []
    return BranchListing(database, pid, own, out, snaps)
