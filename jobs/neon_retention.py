"""After a good scheduled dump: Neon backup branches past their policy go too.

The nightly retention deletes old dumps without asking (the policy is the confirmation);
the same goes for backup branches of that database. What happened is one line in the
dump's thread; a branch Neon refuses to delete is said once (``engine.neon_prune``
remembers it), and a Neon outage here never fails the dump or its retention.
"""

from __future__ import annotations

import logging

from core.config import Config
from core.errors import BackupbotError
from core.i18n import _
from core.redact import redact
from jobs.events import Reporter, StepResult
from jobs.freeze import is_frozen
from jobs.store import Job, Store

log = logging.getLogger(__name__)


def prune_neon_branches(cfg: Config, store: Store, reporter: Reporter, job: Job) -> str:
    from engine.neon_prune import REFUSED, apply_branch_prune, plan_branch_prune

    database = str(job.database)
    if (frozen := is_frozen(store, database)) is not None:
        reporter.step(job, StepResult(_("Neon branch retention"), "skipped", detail=frozen.sentence()))
        return "frozen"
    try:
        before = plan_branch_prune(cfg, database, store)
        newly_refused = {i.branch.id for i in before.items if i.action == REFUSED}
        plan = apply_branch_prune(cfg, before, store) if before.to_delete else before
    except BackupbotError as exc:
        log.warning("Neon branch retention for %s failed: %s", database, redact(exc.render()))
        reporter.step(job, StepResult(_("Neon branch retention"), "failed", detail=redact(exc.message)))
        return "failed"
    refused = [i for i in plan.items if i.action == REFUSED and i.branch.id not in newly_refused]
    detail = plan.line() + "".join(
        "; " + _("Neon refused to delete `{branch}`: {why}").format(branch=i.branch.name, why=i.why)
        for i in refused
    )
    store.audit(job.id, "neon_branch_retention", "scheduler", {"line": detail})
    reporter.step(job, StepResult(_("Neon branch retention"), "ok", detail=detail))
    return "ok"
