"""Branch retention: what is deleted, what never is, and a refusal said once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.config import Config
from engine.neon_branches import create_backup_branch
from engine.neon_prune import apply_branch_prune, plan_branch_prune
from jobs.store import Store
from tests.neon.conftest import PID
from tests.support.fake_neon import FakeNeon, ts


def test_prune_deletes_only_expired_bot_branches_and_reports_a_refusal_once(
    neon_cfg: Config, fake_neon: FakeNeon
) -> None:
    store = Store.for_config(neon_cfg)
    past = ts(datetime.now(UTC) - timedelta(days=1))
    old = [
        create_backup_branch(neon_cfg, "prod", name=f"backup-old-{i}", requested_by="U0DEV") for i in range(3)
    ]
    kept = create_backup_branch(neon_cfg, "prod", name="backup-keep", requested_by="U0DEV", keep=True)
    newest = create_backup_branch(neon_cfg, "prod", name="backup-newest", requested_by="U0DEV")
    for b in old:
        fake_neon.branches[PID][b.id]["expires_at"] = past
    fake_neon.branches[PID][kept.id]["created_at"] = ts(datetime.now(UTC) - timedelta(days=400))
    fake_neon.branches[PID][newest.id]["expires_at"] = past
    fake_neon.branches[PID][newest.id]["created_at"] = ts(datetime.now(UTC) + timedelta(seconds=5))
    main = fake_neon.branch_named(PID, "main")
    theirs = fake_neon._new_branch(PID, "backup-by-hand", main, "x")  # same name shape, not ours
    theirs["expires_at"] = past
    fake_neon.undeletable.add(old[0].id)

    plan = plan_branch_prune(neon_cfg, "prod", store)
    actions = {i.branch.name: i.action for i in plan.items}
    assert actions == {
        "backup-old-0": "delete",
        "backup-old-1": "delete",
        "backup-old-2": "delete",
        "backup-keep": "keep",
        "backup-newest": "keep",
    }
    assert not fake_neon.calls_to("DELETE", "")  # a plan deletes nothing

    done = apply_branch_prune(neon_cfg, plan, store)
    assert {i.branch.name: i.action for i in done.items}["backup-old-0"] == "refused"
    names = {b["name"] for b in fake_neon.branches[PID].values()}
    assert {"backup-old-1", "backup-old-2"}.isdisjoint(names)
    assert {"main", "backup-old-0", "backup-keep", "backup-newest", "backup-by-hand"} <= names

    again = plan_branch_prune(neon_cfg, "prod", store)
    assert {i.branch.name: i.action for i in again.items}["backup-old-0"] == "refused"
    deletes = len(fake_neon.calls_to("DELETE", old[0].id))
    apply_branch_prune(neon_cfg, again, store)
    assert len(fake_neon.calls_to("DELETE", old[0].id)) == deletes == 1  # not asked again
