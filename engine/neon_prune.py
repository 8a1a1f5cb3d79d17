"""Which Neon backup branches have outlived their policy, and deleting them when a lead confirms.

Neon deletes a branch past its ``expires_at`` on its own, eventually; this catches the ones
it has not, and the ones made without an expiry (a retention change, an older bot). The
rules that keep a branch are the point, each a way to lose the way back:

- only branches this bot made (its annotation names this database) are ever candidates;
  the database's own branch, the default branch and anything else are never touched;
- the newest backup branch is always kept, whatever its age;
- ``--keep`` branches are kept; preserved ``pre-restore-`` branches are kept (they are the
  undo of a restore, and Neon refuses to delete them while the target is their child);
- a branch Neon refuses to delete (protected, default, with children) is reported once and
  remembered, so later runs say "Neon refused earlier" instead of asking again forever.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from adapters.neon import NeonClient, NeonRefused
from core.config import Config
from core.errors import BackupbotError
from core.i18n import N_, _, ngettext
from engine.neon_branches import BackupBranch, list_backup_branches

KEEP, DELETE, DELETED, REFUSED = "keep", "delete", "deleted", "refused"
_LINE = {
    KEEP: N_("keep `{name}` — {why}"),
    DELETE: N_("would delete `{name}` — {why}"),
    DELETED: N_("deleted `{name}` — {why}"),
    REFUSED: N_("Neon refused `{name}` — {why}"),
}


def _refused_key(project_id: str, branch_id: str) -> str:
    return f"neon-prune-refused:{project_id}:{branch_id}"


@dataclass(frozen=True)
class BranchPruneItem:
    branch: BackupBranch
    action: str
    why: str

    def line(self) -> str:
        text = _LINE[self.action]
        return _(text).format(name=self.branch.name, why=self.why)


@dataclass(frozen=True)
class BranchPrunePlan:
    database: str
    project_id: str
    items: tuple[BranchPruneItem, ...]

    @property
    def to_delete(self) -> list[BranchPruneItem]:
        return [i for i in self.items if i.action == DELETE]

    def line(self) -> str:
        count = {a: sum(1 for i in self.items if i.action == a) for a in (KEEP, DELETE, DELETED, REFUSED)}
        parts = [ngettext("{n} kept", "{n} kept", count[KEEP]).format(n=count[KEEP])]
        if count[DELETE]:
            parts.append(_("{n} to delete").format(n=count[DELETE]))
        if count[DELETED]:
            parts.append(ngettext("{n} deleted", "{n} deleted", count[DELETED]).format(n=count[DELETED]))
        if count[REFUSED]:
            parts.append(_("{n} Neon refused to delete").format(n=count[REFUSED]))
        return _("Neon backup branches of '{db}': {counts}").format(db=self.database, counts=", ".join(parts))


def plan_branch_prune(
    cfg: Config, database: str, state: Any = None, now: datetime | None = None
) -> BranchPrunePlan:
    now = (now or datetime.now(UTC)).astimezone(UTC)
    listing = list_backup_branches(cfg, database)
    days = cfg.database(database).retention.pre_event_days
    own = listing.own_branch["id"]
    newest = next((b.id for b in listing.backups if b.made_by_bot and not b.preserved), None)
    items = []
    for b in listing.backups:
        refused = state.kv_get(_refused_key(listing.project_id, b.id)) if state is not None else None
        expires = datetime.fromisoformat(b.expires_at.replace("Z", "+00:00")) if b.expires_at else None
        if not b.made_by_bot or b.id == own:
            action, why = (
                KEEP,
                _("not made as a backup branch by this bot")
                if b.id != own
                else _("the database's own branch"),
            )
        elif b.preserved:
            action, why = (
                KEEP,
                _("preserved by a restore (its undo); delete it in Neon when no longer needed"),
            )
        elif b.id == newest:
            action, why = KEEP, _("the newest backup branch")
        elif refused:
            action, why = REFUSED, _("Neon refused earlier: {said}; not asked again").format(said=refused)
        elif expires is not None and expires <= now:
            action, why = (
                DELETE,
                _("expired {when} and Neon has not deleted it yet").format(when=b.expires_at),
            )
        elif b.keep:
            action, why = KEEP, _("made with --keep")
        elif expires is None and days > 0 and b.created_at <= now - timedelta(days=days):
            action, why = (
                DELETE,
                _("older than pre_event_days ({days}) and made without an expiry").format(days=days),
            )
        elif b.expires_at:
            action, why = KEEP, _("expires {when}").format(when=b.expires_at)
        else:
            action, why = KEEP, ngettext("younger than {n} day", "younger than {n} days", days).format(n=days)
        items.append(BranchPruneItem(b, action, why))
    return BranchPrunePlan(database, listing.project_id, tuple(items))


def apply_branch_prune(cfg: Config, plan: BranchPrunePlan, state: Any = None) -> BranchPrunePlan:
    """Delete what the plan marked; a refusal is remembered and reported once."""
    client = NeonClient.for_database(cfg, cfg.database(plan.database))
    out = []
    for item in plan.items:
        if item.action != DELETE:
            out.append(item)
            continue
        try:
            ops = client.delete_branch(plan.project_id, item.branch.id)
            client.wait_operations(plan.project_id, ops)
            out.append(replace(item, action=DELETED))
        except NeonRefused as exc:
            said = (exc.detail or exc.message)[:300]
            if state is not None:
                state.kv_set(_refused_key(plan.project_id, item.branch.id), said)
            out.append(replace(item, action=REFUSED, why=said))
        except BackupbotError as exc:
            out.append(
                replace(
                    item,
                    action=KEEP,
                    why=_("delete failed, will try again: {error}").format(error=exc.message),
                )
            )
    return BranchPrunePlan(plan.database, plan.project_id, tuple(out))


def prune_lines(plan: BranchPrunePlan, show: int = 25) -> list[str]:
    """For Slack and the terminal: one line per branch, then the totals."""
    lines = [f"• {item.line()}" for item in plan.items[:show]]
    if len(plan.items) > show:
        lines.append(_("… and {n} more").format(n=len(plan.items) - show))
    return lines + [plan.line()]
