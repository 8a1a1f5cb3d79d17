"""The lines of a restore request that say how it will run and what it will leave behind.

An approver must know which method runs and why (swap or clean), whether the safety dump
is of the database that will be overwritten (it is read through the restore URL; the card
says whether the dump URL reaches the same database or another one, e.g. a replica), and
for a clean restore what stays in the target because the backup does not have it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from adapters import pg_databases, pg_objects
from adapters.pg_inspect import ArchiveSummary
from core.config import DatabaseConfig
from core.errors import BackupbotError
from core.i18n import _, ngettext
from engine.manifest import Manifest

if TYPE_CHECKING:
    from adapters.storage import Storage
    from core.config import Config


def safety_line(db: DatabaseConfig, restore_url: str) -> str:
    """Where the safety dump comes from, and whether the dump URL reaches the same database."""
    try:
        target = pg_databases.identity(restore_url)
    except BackupbotError as exc:
        return _("through the restore URL; which database it reaches could not be read ({error})").format(
            error=exc.message
        )
    try:
        source = pg_databases.identity(db.dump_url())
    except BackupbotError:
        return _(
            "through the restore URL, of {target}; the dump URL does not answer, so nightly backups may not "
            "be of this database"
        ).format(target=target.describe())
    if source == target:
        return _("through the restore URL, of {target} (the dump URL reaches the same database)").format(
            target=target.describe()
        )
    return _(
        "through the restore URL, of {target}; note: the dump URL reaches another database ({source}), so "
        "the nightly backups are not of the database this restore overwrites"
    ).format(target=target.describe(), source=source.describe())


def method_line(method: str, why: str, db: DatabaseConfig, mode_why: str) -> str:
    if method == "swap":
        when = (
            _("the app keeps serving until the switch (maintenance only around the renames)")
            if db.maintenance == "switch"
            else _("in maintenance from before the restore to after the switch")
        )
        return _(
            "swap ({why}); {when}; the replaced database is kept {hours} h for `undo`; staging: {staging}"
        ).format(why=why, when=when, hours=f"{db.keep_previous_hours:g}", staging=mode_why)
    if db.restore_clean == "exact":
        return _(
            "clean exact (objects only in the target are dropped first), in place with pg_restore --clean "
            "--if-exists ({why}); staging: {staging}"
        ).format(why=why, staging=mode_why)
    return _("clean, in place with pg_restore --clean --if-exists ({why}); staging: {staging}").format(
        why=why, staging=mode_why
    )


def exact_clean(db: DatabaseConfig, manifest: Manifest, target: str) -> tuple[bool, str]:
    """(empty the target first?, why): ``restore_clean = "exact"``, or a safety dump going back where it came from.

    Putting a safety dump back is an undo: it must bring back exactly what was there, so
    what was added since (by the restore it undoes) is dropped, not left behind.
    """
    if db.restore_clean == "exact":
        return True, 'restore_clean = "exact"'
    if manifest.kind == "pre-restore" and manifest.database == target:
        return True, _("a safety dump of this database goes back exactly as it was")
    return False, ""


def clean_fields(
    db: DatabaseConfig, url: str, manifest: Manifest, target: str, archive: ArchiveSummary
) -> tuple[dict[str, str], list[str]]:
    """Card lines for a clean restore (what is replaced, what stays or is dropped) and blocking problems."""
    exact, why = exact_clean(db, manifest, target)
    mine = pg_objects.target_objects(url)
    extra = pg_objects.only_in_target(archive.objects, mine)
    names = ", ".join(o.describe() for o in extra[:12])
    if len(extra) > 12:
        names = _("{names} and {n} more").format(names=names, n=len(extra) - 12)
    replaced = sorted(set(archive.objects) & mine)
    tables = sum(1 for o in replaced if o.kind == "TABLE")
    all_tables = sum(1 for o in mine if o.kind == "TABLE")
    of_tables = ngettext(
        "{n} of the target's {all} table", "{n} of the target's {all} tables", all_tables
    ).format(n=tables, all=all_tables)
    objects = ngettext(
        "{n} object the backup also has ({tables})",
        "{n} objects the backup also has ({tables})",
        len(replaced),
    ).format(n=len(replaced), tables=of_tables)
    fields = {
        "Will replace": (
            _("{objects}; everything else is dropped first")
            if exact
            else _("{objects}; nothing else is touched")
        ).format(objects=objects)
    }
    blocking: list[str] = []
    if not exact:  # not every table of the target: only those the backup has too
        fields["Will overwrite"] = _(
            "{tables} (those the backup also has) and the backup's other objects"
        ).format(tables=of_tables)
    if exact:
        fields["Will drop"] = (
            _("everything else in the target first ({why}): {names}").format(why=why, names=names)
            if extra
            else _("nothing else ({why})").format(why=why)
        )
    else:
        fields["Will stay"] = (
            ngettext(
                "{n} object only in the target, untouched: {names}",
                "{n} objects only in the target, untouched: {names}",
                len(extra),
            ).format(n=len(extra), names=names)
            if extra
            else _("nothing: the target holds only what the backup has")
        )
        parted = pg_objects.partitioned_in_both(url, archive.objects)
        if parted:
            blocking.append(
                _(
                    "the target has partitioned tables the backup replaces ({tables}); pg_restore --clean cannot "
                    'drop their partitions\' keys: set restore_clean = "exact" or let the restore role create '
                    "databases (swap)"
                ).format(tables=", ".join(parted[:5]))
            )
    return fields, blocking


def globals_line(manifest: Manifest) -> str:
    """Whether the backup carries the roles and memberships (``globals = true``)."""
    if manifest.globals_key:
        return _("yes: roles and memberships (no passwords) stored beside it ({key})").format(
            key=manifest.globals_key
        )
    if manifest.globals_note:
        return _("no: {why}; the roles it refers to must already exist on the target server").format(
            why=manifest.globals_note
        )
    return _(
        "no: the roles it refers to must already exist on the target server (globals = true stores them)"
    )


def roles_line(cfg: Config, manifest: Manifest, url: str, storage: Storage | None) -> str:
    """Which roles the restore would create (those the backup needs and the target's server lacks)."""
    from adapters.storage import open_storage
    from engine import globals_dump, restore_roles
    from engine.decrypt import iter_plain

    try:
        storage = storage or open_storage(cfg.storage)
        stored = restore_roles.parse(globals_dump.load(cfg, manifest, storage).decode())
        referenced = restore_roles.referenced_roles(iter_plain(cfg, manifest, storage))
        chosen = restore_roles.plan(stored, referenced, restore_roles.existing_roles(url))
    except Exception as exc:  # noqa: BLE001 - the card says so; the restore's own step reads them again
        why = exc.message if isinstance(exc, BackupbotError) else type(exc).__name__
        return _("could not be checked ({error}); the restore checks again before it restores").format(
            error=why
        )
    line = chosen.line()
    if chosen.create:
        line = _(
            "{roles}. They are created right before the restore; existing roles are not changed, and the "
            "created ones need a password before they can log in"
        ).format(roles=line)
    if chosen.guessed:
        line = _(
            "{roles} (the backup's table of contents could not be read: every stored role counts)"
        ).format(roles=line)
    return line


def swap_plan_lines(db: DatabaseConfig, mode: str, roles: bool = False) -> list[str]:
    """The steps of a swap for the dry run, in the order ``maintenance`` gives them."""
    from adapters import hooks
    from engine.restore_plan import roles_plan_line
    from engine.restore_report import with_roles
    from engine.restore_swap import steps_for

    def hook(value: object) -> str:
        return hooks.describe(value) if hooks.is_configured(value) else _("skipped (not configured)")  # type: ignore[arg-type]

    how = (
        _("staged on disk, pg_restore -j {jobs}").format(jobs=db.restore_jobs)
        if mode == "staged"
        else _("streamed, one transaction")
    )
    migrate = " ".join(db.migrate) if db.migrate else _("skipped")
    text = {
        "lock": _("Lock target '{target}'").format(target=db.name),
        "safety_dump": _("Safety dump of '{target}' through its restore URL (kind pre-restore)").format(
            target=db.name
        ),
        "maintenance_on": _("Maintenance on: {hook}").format(hook=hook(db.maintenance_on)),
        "roles": roles_plan_line(),
        "restore": _("Restore into a new database on the target's server, no --clean ({how})").format(
            how=how
        ),
        "migrate": _("Migrate the new database: {command}").format(command=migrate),
        "health": _("Health checks on the new database: {checks}").format(
            checks="; ".join(db.health_checks) or _("none configured")
        ),
        "switch": _(
            "Switch: {sessions} open sessions, rename the target to <name>_before_<time> (kept {hours} h) and "
            "the new database into its place"
        ).format(sessions=db.restore_sessions, hours=f"{db.keep_previous_hours:g}"),
        "maintenance_off": _("Maintenance off: {hook}").format(hook=hook(db.maintenance_off)),
        "runbook": _("Runbook entry: channel, bucket, {file}").format(file=db.runbook_file)
        if db.runbook_file
        else _("Runbook entry: channel, bucket"),
    }
    steps = with_roles(steps_for(db)) if roles else steps_for(db)
    return [f"{i}. {text[key]}" for i, (key, _title) in enumerate(steps, 1)]
