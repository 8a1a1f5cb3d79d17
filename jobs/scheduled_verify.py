"""What follows a good scheduled backup when ``[verify] after_nightly = true``: its verification.

The verify job carries a ``schedule`` param of its own (``verify:<db>``), so the
scheduler's follow-up treats it like any scheduled job: a failed verification alerts
on-call with a Retry button, and the next one that passes posts the recovery.
"""

from __future__ import annotations

import logging

from core.config import Config
from core.i18n import _
from jobs.events import Reporter
from jobs.queue import enqueue
from jobs.store import Job, Store

log = logging.getLogger(__name__)


def scratch_lane(database: str) -> str:
    """The lane of jobs that only read a database's backups into scratch databases (verify,
    restore-table, a drill without target): one at a time per database, never behind its dumps,
    so a long verification does not hold up the next nightly."""
    return f"scratch:{database}"


def queue_after_nightly(cfg: Config, store: Store, reporter: Reporter, dump_job: Job) -> Job | None:
    """Queue the verification of the backup ``dump_job`` stored; None when it stored none."""
    backup_id = (dump_job.result or {}).get("backup_id")
    if not cfg.verify.after_nightly or not backup_id or not dump_job.database:
        return None
    job = enqueue(
        store,
        "verify",
        dump_job.database,
        {
            "backup_id": backup_id,
            "schedule": f"verify:{dump_job.database}",
            "after_job": dump_job.id,
            "reason": _("[verify] after_nightly: proves last night's backup `{backup}` restores").format(
                backup=backup_id
            ),
        },
        requested_by="scheduler",
        channel=dump_job.channel or cfg.slack.channel,
        reporter=reporter,
        lane=scratch_lane(dump_job.database),
    )
    log.info("queued %s after %s", job.log_name, dump_job.log_name)
    return job
