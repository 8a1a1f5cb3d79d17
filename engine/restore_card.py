"""The lines of a restore request that say how it will run and what it will leave behind.

An approver must know which method runs and why (swap or clean), whether the safety dump
is of the database that will be overwritten (it is read through the restore URL; the card
says whether the dump URL reaches the same database or another one, e.g. a replica), and
for a clean restore what stays in the target because the backup does not have it.
"""

from __future__ import annotations

from adapters import pg_databases, pg_objects
from adapters.pg_inspect import ArchiveSummary
from core.config import DatabaseConfig
from core.errors import BackupbotError
from engine.manifest import Manifest


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


def exact_clean(db: DatabaseConfig, manifest: Manifest, target: str) -> tuple[bool, str]:
    """(empty the target first?, why): ``restore_clean = "exact"``, or a safety dump going back where it came from.

    Putting a safety dump back is an undo: it must bring back exactly what was there, so
    what was added since (by the restore it undoes) is dropped, not left behind.
    """
    if db.restore_clean == "exact":
        return True, 'restore_clean = "exact"'
    if manifest.kind == "pre-restore" and manifest.database == target:
        return True, "a safety dump of this database goes back exactly as it was"
    return False, ""


def clean_fields(
    db: DatabaseConfig, url: str, manifest: Manifest, target: str, archive: ArchiveSummary
) -> tuple[dict[str, str], list[str]]:
    """Card lines for a clean restore (what is replaced, what stays or is dropped) and blocking problems."""
    exact, why = exact_clean(db, manifest, target)
    mine = pg_objects.target_objects(url)
    extra = pg_objects.only_in_target(archive.objects, mine)
    names = ", ".join(o.describe() for o in extra[:12]) + (
        f" and {len(extra) - 12} more" if len(extra) > 12 else ""
    )
    replaced = sorted(set(archive.objects) & mine)
    tables = sum(1 for o in replaced if o.kind == "TABLE")
    all_tables = sum(1 for o in mine if o.kind == "TABLE")
    fields = {
        "Will replace": f"{len(replaced)} object{'' if len(replaced) == 1 else 's'} the backup also has "
        f"({tables} of the target's {all_tables} table{'' if all_tables == 1 else 's'}); "
        + ("everything else is dropped first" if exact else "nothing else is touched")
    }
    blocking: list[str] = []
    if not exact:  # not every table of the target: only those the backup has too
        fields["Will overwrite"] = (
            f"{tables} of the target's {all_tables} table{'' if all_tables == 1 else 's'} "
            "(those the backup also has) and the backup's other objects"
        )
    if exact:
        fields["Will drop"] = (
            f"everything else in the target first ({why}): {names}" if extra else f"nothing else ({why})"
        )
    else:
        fields["Will stay"] = (
            f"{len(extra)} object{'' if len(extra) == 1 else 's'} only in the target, untouched: {names}"
            if extra
            else "nothing: the target holds only what the backup has"
        )
        parted = pg_objects.partitioned_in_both(url, archive.objects)
        if parted:
            blocking.append(
                f"the target has partitioned tables the backup replaces ({', '.join(parted[:5])}); "
                'pg_restore --clean cannot drop their partitions\' keys: set restore_clean = "exact" or let the '
                "restore role create databases (swap)"
            )
    return fields, blocking


def globals_line(manifest: Manifest) -> str:
    """Whether the backup carries the roles and memberships (``globals = true``)."""
    if manifest.globals_key:
        return f"yes: roles and memberships (no passwords) stored beside it ({manifest.globals_key})"
    if manifest.globals_note:
        return f"no: {manifest.globals_note}; the roles it refers to must already exist on the target server"
    return "no: the roles it refers to must already exist on the target server (globals = true stores them)"


def swap_plan_lines(db: DatabaseConfig, mode: str) -> list[str]:
    """The nine steps of a swap for the dry run, in the order ``maintenance`` gives them."""
    from adapters import hooks
    from engine.restore_swap import steps_for

    def hook(value: object) -> str:
        return hooks.describe(value) if hooks.is_configured(value) else "skipped (not configured)"  # type: ignore[arg-type]

    how = (
        f"staged on disk, pg_restore -j {db.restore_jobs}"
        if mode == "staged"
        else "streamed, one transaction"
    )
    migrate = " ".join(db.migrate) if db.migrate else "skipped"
    text = {
        "lock": f"Lock target '{db.name}'",
        "safety_dump": f"Safety dump of '{db.name}' through its restore URL (kind pre-restore)",
        "maintenance_on": f"Maintenance on: {hook(db.maintenance_on)}",
        "restore": f"Restore into a new database on the target's server, no --clean ({how})",
        "migrate": f"Migrate the new database: {migrate}",
        "health": f"Health checks on the new database: {'; '.join(db.health_checks) or 'none configured'}",
        "switch": f"Switch: {db.restore_sessions} open sessions, rename the target to <name>_before_<time> "
        f"(kept {db.keep_previous_hours:g} h) and the new database into its place",
        "maintenance_off": f"Maintenance off: {hook(db.maintenance_off)}",
        "runbook": "Runbook entry: channel, bucket" + (f", {db.runbook_file}" if db.runbook_file else ""),
    }
    return [f"{i}. {text[key]}" for i, (key, _) in enumerate(steps_for(db), 1)]
