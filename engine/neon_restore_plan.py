"""What a restore from Neon would do, worked out before anyone approves it.

Three sources, typed the way the runbook says them:

- ``neon:BRANCH`` — the target's branch takes that branch's state (a backup branch);
- ``neon@TIMESTAMP`` — the target's branch goes back to its own state at that moment;
- ``neon-snapshot:NAME`` — the target's branch is replaced by a branch restored from a
  Neon snapshot (a new branch id; the name and connection string stay).

Neon restores a whole branch: every database on it. So the plan reads the target branch,
its size and every database it holds, for the approver to see, and fixes the name under
which the current state is preserved (``pre-restore-<stamp>``) so the approval is for
exactly that name. Nothing here changes anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from adapters.neon import NeonClient
from core.config import Config, DatabaseConfig
from core.errors import UsageError
from core.i18n import N_, _, pgettext
from core.units import human_bytes
from engine.neon_branches import PRESERVED_PREFIX, check_in_window, iso, parse_time, resolve_branch

PREFIXES = ("neon:", "neon@", "neon-snapshot:")
USAGE = "restore neon:BRANCH|neon@TIMESTAMP|neon-snapshot:NAME [DB] --target NAME [--reason TEXT]"
# The Neon request card's own field names (the others are the dump card's, engine/restore_plan.py).
FIELD_NAMES = (N_("Connection strings"), N_("Preserved as"))


def is_neon_ref(ref: str) -> bool:
    return ref.strip().lower().startswith(PREFIXES)


@dataclass(frozen=True)
class NeonSource:
    kind: str  # branch | time | snapshot
    value: str  # branch name/id, RFC 3339 timestamp, snapshot name/id

    @property
    def ref(self) -> str:
        return {"branch": "neon:", "time": "neon@", "snapshot": "neon-snapshot:"}[self.kind] + self.value


def parse_source(ref: str) -> NeonSource:
    text = ref.strip()
    low = text.lower()
    if low.startswith("neon-snapshot:"):
        source = NeonSource("snapshot", text[len("neon-snapshot:") :])
    elif low.startswith("neon@"):
        source = NeonSource("time", iso(parse_time(text[len("neon@") :], "neon@")))
    elif low.startswith("neon:"):
        source = NeonSource("branch", text[len("neon:") :])
    else:
        raise UsageError(
            _("'{ref}' is not a Neon source").format(ref=ref),
            hint=_("Usage: `/backup {usage}`").format(usage=USAGE),
        )
    if not source.value:
        raise UsageError(
            _("'{ref}' names nothing after the prefix").format(ref=ref),
            hint=_("Usage: `/backup {usage}`").format(usage=USAGE),
        )
    return source


def preserve_name(now: datetime) -> str:
    return f"{PRESERVED_PREFIX}{now.astimezone(UTC):%Y%m%dT%H%M%SZ}"


@dataclass
class NeonPlan:
    source: NeonSource
    target: str  # the configured database
    project_id: str
    target_branch: dict[str, Any]
    databases: list[str]
    preserve: str
    source_branch: dict[str, Any] | None = None
    snapshot: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)

    def source_line(self) -> str:
        if self.source.kind == "branch" and self.source_branch:
            b = self.source_branch
            return _("Neon branch `{name}` ({id}, made {when})").format(
                name=b["name"], id=b["id"], when=b.get("created_at", "?")
            )
        if self.source.kind == "snapshot" and self.snapshot:
            s = self.snapshot
            return _("Neon snapshot `{name}` (taken {when})").format(
                name=s["name"], when=s.get("timestamp") or s["created_at"]
            )
        return _("`{name}` as it was at {when}").format(
            name=self.target_branch["name"], when=self.source.value
        )

    def summary(self) -> dict[str, str]:
        """The request card: what is overwritten, what stays, where the way back is."""
        b = self.target_branch
        size = human_bytes(int(b.get("logical_size", 0) or 0))
        dbs = ", ".join(f"`{d}`" for d in self.databases) or _("none listed")
        out = {
            "Backup": self.source_line(),
            "Target": _("`{target}`: Neon project `{project}`, branch `{name}` ({id})").format(
                target=self.target, project=self.project_id, name=b["name"], id=b["id"]
            ),
            "Will overwrite": _(
                "the whole branch `{name}`, {size}, every database on it: {databases}"
            ).format(name=b["name"], size=size, databases=dbs),
            "Connection strings": _(
                "stay the same (the branch keeps its computes); open connections are cut briefly"
            ),
            "Preserved as": _(
                "branch `{preserve}`: the current state, to undo with `/backup restore neon:{preserve} --target "
                "{target}`"
            ).format(preserve=self.preserve, target=self.target),
            "Expected duration": _("seconds: Neon restores by pointer, not by copying data"),
        }
        if self.warnings:
            out["Warnings"] = "; ".join(self.warnings)
        return out

    def params(self) -> dict[str, Any]:
        return {
            "neon_source": self.source.ref,
            "neon_project_id": self.project_id,
            "neon_target_branch_id": self.target_branch["id"],
            "neon_target_branch_name": self.target_branch["name"],
            "neon_source_id": (self.source_branch or self.snapshot or {}).get("id", ""),
            "preserve_under_name": self.preserve,
        }


def neon_target(cfg: Config, target: str) -> DatabaseConfig:
    db = cfg.database(target)
    if not db.neon_project_id:
        raise UsageError(
            _("database '{target}' is not on Neon, so it cannot be restored from Neon").format(target=target),
            detail=_("[databases.{target}] has no neon_project_id.").format(target=target),
            hint=_("Restore a dump instead: `/backup restore latest --target {target}`.").format(
                target=target
            ),
        )
    return db


def plan_neon_restore(
    cfg: Config, ref: str, target: str, *, source_db: str | None = None, now: datetime | None = None
) -> NeonPlan:
    now = (now or datetime.now(UTC)).astimezone(UTC)
    source = parse_source(ref)
    db = neon_target(cfg, target)
    if source_db and cfg.database(source_db).neon_project_id != db.neon_project_id:
        raise UsageError(
            _("'{source}' and '{target}' are in different Neon projects").format(
                source=source_db, target=target
            ),
            detail=_("Neon restores a branch from a branch, a moment or a snapshot of the same project."),
            hint=_("Name a branch of '{target}': `/backup branches {target}` lists them.").format(
                target=target
            ),
        )
    client = NeonClient.for_database(cfg, db)
    pid = db.neon_project_id
    own = resolve_branch(client, db)
    branch, _unused = client.branch(pid, own["id"])
    taken = {b["name"] for b in client.branches(pid)[0]}
    keep = preserve_name(now)
    keep = next((n for n in [keep] + [f"{keep}-{i}" for i in range(2, 50)] if n not in taken), keep)
    plan = NeonPlan(source, target, pid, branch, client.databases(pid, branch["id"]), keep)
    if branch.get("protected"):
        raise UsageError(
            _("branch '{name}' of '{target}' is protected; Neon does not restore over it").format(
                name=branch["name"], target=target
            ),
            hint=_("Unprotect it in the Neon console first, if overwriting it is really meant."),
        )
    blocked = [a for a in branch.get("restricted_actions", []) or [] if a.get("name") == "restore"]
    if blocked:
        raise UsageError(
            _("Neon does not allow a restore of '{name}' right now").format(name=branch["name"]),
            detail=str(blocked[0].get("reason", "")),
            hint=_("Try again when Neon lifts the restriction."),
        )
    if source.kind == "branch":
        found = resolve_branch(client, db, source.value)
        if found["id"] == branch["id"]:
            raise UsageError(
                _("'{source}' is the target's own branch").format(source=source.value),
                hint=_("To go back in time on it, use `neon@TIMESTAMP --target {target}`.").format(
                    target=target
                ),
            )
        plan.source_branch = found
    elif source.kind == "time":
        at = parse_time(source.value)
        check_in_window(client, db, at, now)
        if branch.get("parent_id"):
            plan.warnings.append(
                _(
                    "`{name}` is not a root branch; Neon may refuse point-in-time restores on child branches"
                ).format(name=branch["name"])
            )
    else:
        snaps = client.snapshots(pid)
        found_snap = next((s for s in snaps if s["id"] == source.value), None) or next(
            (s for s in snaps if s["name"] == source.value), None
        )
        if found_snap is None:
            names = ", ".join(s["name"] for s in snaps) or pgettext("snapshots", "none")
            raise UsageError(
                _("Neon project '{project}' has no snapshot '{name}'").format(project=pid, name=source.value),
                detail=_("Snapshots there: {names}.").format(names=names),
                hint=_("`/backup branches {target}` lists them.").format(target=target),
            )
        plan.snapshot = found_snap
        if (db.neon_branch or "").startswith("br-"):
            plan.warnings.append(
                _(
                    'a snapshot restore gives the branch a new id: set neon_branch = "{name}" (the name) in '
                    "[databases.{target}] instead of {branch}"
                ).format(name=branch["name"], target=target, branch=db.neon_branch)
            )
    return plan
