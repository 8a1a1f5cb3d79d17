"""The schedule entries of the application's files: a nightly sync after the database backups, then a check.

Kept out of ``jobs.scheduler`` (which only collects ``ENTRY_SOURCES``) so the scheduler
does not need to know about files. The defaults ([files] ``schedule`` 04:30 and
``verify_schedule`` 05:00, UTC) follow the databases' default 03:00; an empty string
turns either off. A failed run alerts on-call like a failed nightly backup, through the
scheduler's usual follow-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.config import Config
from core.i18n import _

if TYPE_CHECKING:
    from jobs.scheduler import ScheduleEntry


def files_entries(cfg: Config) -> list[ScheduleEntry]:
    from jobs.scheduler import ScheduleEntry, _check

    files = cfg.files
    if files is None:
        return []
    out = []
    for kind, cron, setting in (
        ("files_sync", files.schedule, "schedule"),
        ("files_verify", files.verify_schedule, "verify_schedule"),
    ):
        if not cron.strip():
            continue
        entry = ScheduleEntry(
            kind,
            None,
            cron.strip(),
            files.timezone,
            {"reason": _("scheduled ({cron})").format(cron=cron.strip())},
        )
        out.append(_check(entry, f"{cfg.path}: [files] ({setting})"))
    return out
