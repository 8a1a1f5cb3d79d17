"""What a restore would do, before it does it: the preflight people approve, and the estimate.

An approver is asked to overwrite a database; they should see what goes in (the backup's
table of contents, read with ``pg_restore --list`` from the first blocks of the stream),
what goes away (the target's size, largest tables, open sessions), whether the versions
fit, and how long it will take — estimated from the last restore of a similar size,
which the store remembers.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from adapters import hooks, pg_inspect, pg_restore
from adapters.storage import Storage
from core.config import Config, DatabaseConfig
from core.errors import PreflightError, RestoreError
from core.i18n import N_, _, ngettext, pgettext
from core.units import human_bytes
from engine.decrypt import iter_plain
from engine.manifest import Manifest

HISTORY_KEY = "restore:history"
HISTORY_LIMIT = 50

# The request card's field names: English keys in the job's params (the renderers order them by
# these), shown translated with _(name). Marked here so the catalog has them.
FIELD_NAMES = (
    N_("Backup"),
    N_("Target"),
    N_("Will overwrite"),
    N_("Will replace"),
    N_("Backup holds"),
    N_("Versions"),
    N_("Open sessions"),
    N_("Restore method"),
    N_("Safety dump"),
    N_("Will stay"),
    N_("Will drop"),
    N_("Backup has roles"),
    N_("Roles to create"),
    N_("Expected duration"),
    N_("Warnings"),
)


class RestoreState(Protocol):
    """What a restore needs from the bot's store: a lock per target and a little memory.

    ``jobs.store.Store`` provides exactly this; the engine does not import it.
    """

    def acquire_lock(
        self, name: str, holder: str, *, job_id: int | None = None, ttl_seconds: float | None = None
    ) -> bool: ...

    def release_lock(self, name: str, holder: str) -> bool: ...

    def lock_holder(self, name: str) -> dict[str, Any] | None: ...

    def kv_get(self, key: str, default: Any = None) -> Any: ...

    def kv_set(self, key: str, value: Any) -> None: ...

    def transaction(self) -> AbstractContextManager[Any]:
        """A serialized write transaction whose object has ``query`` and ``execute`` (the portable dialect)."""
        ...


@dataclass(frozen=True)
class Preflight:
    manifest: Manifest
    target: str
    archive: pg_inspect.ArchiveSummary
    target_info: pg_inspect.TargetInfo
    blocking: tuple[str, ...]
    warnings: tuple[str, ...]
    mode: str  # how the dump would go in: staged -j N, or streamed
    estimate_seconds: float | None
    estimate_basis: str
    fields: dict[str, str] = field(default_factory=dict)
    method: str = "clean"  # or "swap"

    @property
    def ok(self) -> bool:
        return not self.blocking


def _person(who: str) -> str:
    """A Slack user id as a mention (Slack shows the name; the console and CLI put the name back)."""
    return f"<@{who}>" if re.fullmatch(r"[UW][A-Z0-9]+", who or "") else (who or "?")


def staging_dir(cfg: Config) -> str:
    return cfg.runner.staging_dir or str(Path(cfg.state_dir) / "staging")


def choose_mode(cfg: Config, target: str, manifest: Manifest) -> tuple[str, str]:
    """("staged", why) when -j pays and the disk has room; else ("streamed", why).

    Staging runs our download, decryption and decompression beside pg_restore's -j workers;
    with no core to spare they compete, and bench/bench_restore.py measured the one-pass
    stream faster on 2 cores (0.98x the recipe against 1.14x), so "auto" stages only where
    there are more cores than workers. The count is this machine's: where pg_restore talks to
    a bigger remote server, restore_mode = "staged" says so.
    """
    db = cfg.database(target)
    if db.restore_jobs <= 1:
        return "streamed", "restore_jobs = 1"
    if db.restore_mode == "streamed":
        return "streamed", 'restore_mode = "streamed"'
    cores = os.cpu_count() or 1
    if db.restore_mode == "auto" and cores <= db.restore_jobs:
        return (
            "streamed",
            _(
                "{cores} cores, none to spare beside pg_restore -j {jobs}: the stream is faster then; "
                'restore_mode = "staged" forces staging'
            ).format(cores=cores, jobs=db.restore_jobs),
        )
    fits, free = pg_restore.staging_room(staging_dir(cfg), manifest.dump_bytes)
    if not fits:
        return (
            "streamed",
            _("not enough free disk to stage ({free} free, dump is {size})").format(
                free=human_bytes(free), size=human_bytes(manifest.dump_bytes)
            ),
        )
    return "staged", _("{free} free on the staging disk").format(free=human_bytes(free))


def human_age(seconds: float) -> str:
    if seconds < 90:
        return f"{int(seconds)} s"
    if seconds < 90 * 60:
        return f"{int(seconds // 60)} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return _("{n} days").format(n=f"{seconds / 86400:.1f}")


def estimate(state: RestoreState | None, dump_bytes: int) -> tuple[float | None, str]:
    """Scale the duration of the past restore closest in size; None when there is none."""
    if state is None:
        return None, _("no restore history")
    history = state.kv_get(HISTORY_KEY, []) or []
    usable = [h for h in history if h.get("bytes", 0) > 0 and h.get("seconds", 0) > 0]
    if not usable:
        return None, _("no earlier restore to compare with")
    size = max(dump_bytes, 1)
    best = min(usable, key=lambda h: abs((h["bytes"] / size) - 1))
    ratio = size / best["bytes"]
    # Fixed costs (lock, hooks, a small safety dump) dominate small restores: scale up, never down.
    seconds = best["seconds"] * max(ratio, 1.0)
    return (
        seconds,
        _("last restore of {size} into {target} took {seconds} s").format(
            size=human_bytes(best["bytes"]), target=best.get("target", "?"), seconds=f"{best['seconds']:.0f}"
        ),
    )


def store_stamp(at: datetime | None = None) -> str:
    """A time as the store writes its own timestamps (``jobs.audit.utcnow``): they compare as text."""
    return (at or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def remember(state: RestoreState | None, target: str, dump_bytes: int, seconds: float) -> None:
    """Add this restore to the history the estimate reads; read and written in one store transaction."""
    if state is None:
        return
    entry = {
        "target": target,
        "bytes": dump_bytes,
        "seconds": round(seconds, 2),
        "at": datetime.now(UTC).isoformat(),
    }
    with state.transaction() as db:
        rows = list(db.query("SELECT value FROM kv WHERE key = ?", [HISTORY_KEY]))
        history = list((json.loads(rows[0]["value"]) if rows else []) or [])
        history.append(entry)
        db.execute(
            "INSERT OR REPLACE INTO kv (key, value, updated_at) VALUES (?, ?, ?)",
            [HISTORY_KEY, json.dumps(history[-HISTORY_LIMIT:], default=str), store_stamp()],
        )


def _head(cfg: Config, manifest: Manifest, storage: Storage | None) -> Iterator[bytes]:
    """The start of the plain dump; the caller stops reading once pg_restore --list has the TOC."""
    return iter_plain(cfg, manifest, storage)


def preflight(
    cfg: Config,
    manifest: Manifest,
    target: str,
    *,
    state: RestoreState | None = None,
    storage: Storage | None = None,
) -> Preflight:
    """Read-only checks of the backup and the target; raises only when one of them cannot be read."""
    db = cfg.database(target)
    url = db.restore_url()
    archive = pg_inspect.summarize_archive(_head(cfg, manifest, storage))
    info = pg_inspect.inspect_target(url, target)
    blocking, warnings = pg_inspect.version_problems(archive, info)
    if info.sessions and db.restore_sessions == "wait":
        warnings.append(
            _("{n} open sessions: the restore will wait for them to end").format(n=len(info.sessions))
        )
    mode, why = choose_mode(cfg, target, manifest)
    seconds, basis = estimate(state, manifest.dump_bytes)
    from engine import restore_card, restore_swap

    try:
        method, method_why = restore_swap.choose_method(db, url)
    except RestoreError as exc:
        method, method_why = "swap", exc.message
        blocking.append(exc.message)
    largest = ", ".join(f"{name} {human_bytes(size)}" for name, size in info.largest[:3])
    size = ngettext("{n} table, {size}", "{n} tables, {size}", info.tables).format(
        n=info.tables, size=human_bytes(info.size_bytes)
    )
    fields = {
        "Backup": _("{id} ({kind}, database {db}, {age} old, {size} stored, taken by {who})").format(
            id=manifest.id,
            kind=manifest.kind,
            db=manifest.database,
            age=human_age(manifest.age_seconds()),
            size=human_bytes(manifest.stored_bytes),
            who=_person(manifest.requested_by),
        ),
        "Target": f"{target} ({info.where}), PostgreSQL {info.server_version}",
        "Will overwrite": _("{tables} (largest: {largest})").format(tables=size, largest=largest)
        if largest
        else size,
        "Backup holds": _("{contents}; dump {size}").format(
            contents=archive.describe(), size=human_bytes(manifest.dump_bytes)
        ),
        "Versions": _("archive from PostgreSQL {major} (pg_dump {by}), target {target}").format(
            major=pg_inspect.major(archive.dumped_from) or "?",
            by=archive.dumped_by.split(" ")[0] or "?",
            target=info.server_version.split(" ")[0],
        ),
        "Open sessions": (
            _("{n} ({how} before restoring): {list}").format(
                n=len(info.sessions),
                how=db.restore_sessions,
                list="; ".join(s.describe() for s in info.sessions[:3]),
            )
            if info.sessions
            else pgettext("open sessions", "none")
        ),
        "Restore method": restore_card.method_line(method, method_why, db, why),
        "Safety dump": restore_card.safety_line(db, url),
        "Backup has roles": restore_card.globals_line(manifest),
    }
    if manifest.globals_key:
        fields["Roles to create"] = restore_card.roles_line(cfg, manifest, url, storage)
    fields["Expected duration"] = (
        _("about {time} ({basis})").format(time=human_age(seconds), basis=basis)
        if seconds is not None
        else basis
    )
    if method == "swap":
        fields["Will overwrite"] = _(
            "the whole database: {what}; it is renamed, not dropped, and kept {hours} h"
        ).format(what=fields["Will overwrite"], hours=f"{db.keep_previous_hours:g}")
    else:
        more, blocked = restore_card.clean_fields(db, url, manifest, target, archive)
        fields.update(more)
        blocking.extend(blocked)
    return Preflight(
        manifest=manifest,
        target=target,
        archive=archive,
        target_info=info,
        blocking=tuple(blocking),
        warnings=tuple(warnings),
        mode=mode,
        estimate_seconds=seconds,
        estimate_basis=basis,
        fields=fields,
        method=method,
    )


def require_ok(pre: Preflight) -> None:
    if pre.blocking:
        raise PreflightError(
            _("restore of {id} into '{target}' cannot run").format(id=pre.manifest.id, target=pre.target),
            detail="; ".join(pre.blocking),
            hint=_("Nothing was changed. Fix the above and request the restore again."),
        )


def target_state(failed: str, mode: str, maintenance: bool = True) -> str:
    """The target's state in words after ``failed`` step stopped the run.

    ``maintenance`` is False when no maintenance_on hook is configured: then the app was
    never put in maintenance, and saying "still in maintenance" would send people looking.
    """
    if failed == "restore":
        failed = {"not started": "restore:not started", "streamed": "restore:streamed"}.get(mode, failed)
    with_maintenance = {
        "roles": (
            N_("unchanged (the missing roles were not created, nothing was restored), still in maintenance"),
            N_("unchanged (the missing roles were not created, nothing was restored)"),
        ),
        "restore:not started": (
            N_("unchanged (pg_restore had not started), still in maintenance"),
            N_("unchanged (pg_restore had not started)"),
        ),
        "restore:streamed": (
            N_("unchanged (the restore was rolled back), still in maintenance"),
            N_("unchanged (the restore was rolled back)"),
        ),
        "restore": (N_("partially restored, still in maintenance"), N_("partially restored")),
        "migrate": (
            N_("restored, migrations failed, still in maintenance"),
            N_("restored, migrations failed"),
        ),
        "health": (
            N_("restored and migrated, health checks failed, still in maintenance"),
            N_("restored and migrated, health checks failed"),
        ),
    }
    if failed in with_maintenance:
        text = with_maintenance[failed][0 if maintenance else 1]
        return _(text)
    state = {
        "lock": N_("unchanged"),
        "safety_dump": N_("unchanged (no safety dump was stored, so nothing was restored)"),
        "maintenance_on": N_("unchanged; maintenance mode may be partly on"),
        "maintenance_off": N_(
            "restored, migrated and checked, but maintenance-off failed: the app may still be down"
        ),
        "runbook": N_("restored and back in service; only the runbook entry is incomplete"),
    }.get(failed, N_("unknown"))
    return _(state)


class RestoreFailed(RestoreError):
    """A step stopped the run; ``report`` has every step, the target's state and the undo command."""

    def __init__(
        self, message: str, detail: str | None = None, hint: str | None = None, report: Any = None
    ) -> None:
        super().__init__(message, detail, hint)
        self.report = report


def plan_lines(cfg: Config, target: str, mode: str, method: str = "clean", roles: bool = False) -> list[str]:
    """The steps as they would run for ``target``, with the real commands in them.

    ``roles``: the backup carries its roles (globals = true), so a roles step comes before the restore.
    """
    db = cfg.database(target)
    if method == "swap":
        from engine.restore_card import swap_plan_lines

        return swap_plan_lines(db, mode, roles)

    def hook(value: object) -> str:
        return hooks.describe(value) if hooks.is_configured(value) else _("skipped (not configured)")  # type: ignore[arg-type]

    owner = "--no-owner" if db.restore_owner == "no-owner" else _("owners kept")
    how = (
        _("staged on disk, pg_restore -j {jobs}").format(jobs=db.restore_jobs)
        if mode == "staged"
        else _("streamed, one transaction")
    )
    if db.migrate and db.migrate_cwd:
        migrate = _("{command} (in {cwd})").format(command=" ".join(db.migrate), cwd=db.migrate_cwd)
    else:
        migrate = " ".join(db.migrate) if db.migrate else _("skipped")
    where = ", ".join(
        w for w in (_("bucket {prefix}").format(prefix=f"runbook/{target}/"), db.runbook_file) if w
    )
    lines = [
        _("Lock target '{target}'").format(target=target),
        _("Safety dump of '{target}' (kind pre-restore)").format(target=target),
        _("Maintenance on: {hook}").format(hook=hook(db.maintenance_on)),
        _("Restore: {sessions} open sessions, pg_restore --clean --if-exists {owner} ({how})").format(
            sessions=db.restore_sessions, owner=owner, how=how
        ),
        _("Migrate: {command}").format(command=migrate),
        _("Health checks: {checks}").format(checks="; ".join(db.health_checks) or _("none configured")),
        _("Maintenance off: {hook}").format(hook=hook(db.maintenance_off)),
        _("Runbook entry: channel, {where}").format(where=where),
    ]
    if roles:
        lines.insert(3, roles_plan_line())
    return [f"{i}. {line}" for i, line in enumerate(lines, 1)]


def roles_plan_line() -> str:
    return _(
        "Create missing roles: those the backup refers to that the target's server lacks, from the roles "
        "stored beside it, without passwords; existing roles are not changed"
    )


def undo_command(safety_id: str, target: str, restore_id: str) -> str:
    return f'backupbot restore {safety_id} --target {target} --break-glass --reason "undo {restore_id}"'


def next_action(
    failed: str | None, db: DatabaseConfig, safety_id: str | None, target: str, restore_id: str
) -> tuple[str | None, str | None]:
    """(what to do next, the undo command) for a run stopped at step ``failed``."""
    undo = undo_command(safety_id, target, restore_id) if safety_id else None
    off = hooks.describe(db.maintenance_off) if hooks.is_configured(db.maintenance_off) else ""
    if failed in (None, "runbook"):
        return None, undo
    if failed in ("lock", "safety_dump"):
        return _("fix the cause above and request the restore again; the target was not touched."), None
    if failed == "maintenance_on":
        if off:
            return _(
                "the target was not restored; check the app and run `{off}`, fix the hook, and request the "
                "restore again."
            ).format(off=off), undo
        return _(
            "the target was not restored; check the app, fix the hook, and request the restore again."
        ), undo
    if failed == "maintenance_off":
        return _("the data is in place; bring the app back by hand (`{off}`).").format(off=off), undo
    if failed == "roles":
        if off:
            return _(
                "the target was not restored and no role was created: fix the cause above, then take the app "
                "out of maintenance (`{off}`), and request the restore again."
            ).format(off=off), None
        return _(
            "the target was not restored and no role was created: fix the cause above and request the "
            "restore again."
        ), None
    migrate = " ".join(db.migrate)
    if failed == "restore":
        finish = _("fix the cause and request the restore again")
    elif failed == "migrate" and db.migrate_cwd:
        finish = _("fix the migration and run it by hand (`{command}` in {cwd})").format(
            command=migrate, cwd=db.migrate_cwd
        )
    elif failed == "migrate":
        finish = _("fix the migration and run it by hand (`{command}`)").format(command=migrate)
    else:
        finish = _("check the data and decide")
    if off:
        return _(
            "either {finish}, then take the app out of maintenance (`{off}`); or put back what was there "
            "before with `{undo}`, then take the app out of maintenance (`{off}`)."
        ).format(finish=finish, off=off, undo=undo), undo
    return _("either {finish}; or put back what was there before with `{undo}`.").format(
        finish=finish, undo=undo
    ), undo
