"""The lines of a restore request that say how it will run and what it will leave behind.

An approver must know which method runs and why (swap or clean), whether the safety dump
is of the database that will be overwritten (it is read through the restore URL; the card
says whether the dump URL reaches the same database or another one, e.g. a replica), and
for a clean restore what stays in the target because the backup does not have it.
"""

from __future__ import annotations

from adapters import pg_databases
from core.config import DatabaseConfig
from core.errors import BackupbotError


def safety_line(db: DatabaseConfig, restore_url: str) -> str:
    """Where the safety dump comes from, and whether the dump URL reaches the same database."""
    try:
        target = pg_databases.identity(restore_url)
    except BackupbotError as exc:
        return f"through the restore URL; which database it reaches could not be read ({exc.message})"
    try:
        source = pg_databases.identity(db.dump_url())
    except BackupbotError:
        return (
            f"through the restore URL, of {target.describe()}; the dump URL does not answer, so "
            "nightly backups may not be of this database"
        )
    if source == target:
        return f"through the restore URL, of {target.describe()} (the dump URL reaches the same database)"
    return (
        f"through the restore URL, of {target.describe()}; note: the dump URL reaches another database "
        f"({source.describe()}), so the nightly backups are not of the database this restore overwrites"
    )


def method_line(method: str, why: str, db: DatabaseConfig, mode_why: str) -> str:
    if method == "swap":
        when = (
            "the app keeps serving until the switch (maintenance only around the renames)"
            if db.maintenance == "switch"
            else "in maintenance from before the restore to after the switch"
        )
        return (
            f"swap ({why}); {when}; the replaced database is kept {db.keep_previous_hours:g} h for "
            f"`undo`; staging: {mode_why}"
        )
    exact = " exact (objects only in the target are dropped first)" if db.restore_clean == "exact" else ""
    return f"clean{exact}, in place with pg_restore --clean --if-exists ({why}); staging: {mode_why}"
