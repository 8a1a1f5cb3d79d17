"""After a swap restore, the replaced database is kept for ``keep_previous_hours`` and then dropped.

The scheduler calls this every pass; each drop is told in the restore's own thread (a
step line on its job), or as an info alert when the restore ran from the CLI, so whoever
reads the thread later knows the fast undo is gone and the safety dump is what remains.
"""

from __future__ import annotations

from datetime import datetime

from core.config import Config
from core.i18n import _
from engine import restore_swap
from jobs.events import Alert, Reporter, StepResult
from jobs.store import Store


def drop_and_tell(cfg: Config, store: Store, reporter: Reporter, now: datetime) -> int:
    dropped = restore_swap.drop_expired(cfg, store, now)
    for item in dropped:
        job = store.find_job(item.job_id) if item.job_id else None
        if job is not None:
            reporter.step(job, StepResult(name=_("Kept database dropped"), status="ok", detail=item.message))
        else:
            reporter.alert(Alert(title=item.message, severity="info", database=item.target))
    return len(dropped)
