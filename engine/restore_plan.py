"""What a restore would do, before it does it: the preflight people approve, and the estimate.

An approver is asked to overwrite a database; they should see what goes in (the backup's
table of contents, read with ``pg_restore --list`` from the first blocks of the stream),
what goes away (the target's size, largest tables, open sessions), whether the versions
fit, and how long it will take — estimated from the last restore of a similar size,
which the store remembers.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from adapters import hooks, pg_inspect, pg_restore
from adapters.storage import Storage
from core.config import Config, DatabaseConfig
from core.errors import PreflightError, RestoreError
from core.units import human_bytes
from engine.decrypt import iter_plain
from engine.manifest import Manifest

HISTORY_KEY = "restore:history"
HISTORY_LIMIT = 50


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
            f"{cores} cores: no core to spare beside pg_restore -j {db.restore_jobs}, "
            'and the stream is faster then (restore_mode = "staged" forces staging)',
        )
    fits, free = pg_restore.staging_room(staging_dir(cfg), manifest.dump_bytes)
    if not fits:
        return (
            "streamed",
            f"not enough free disk to stage ({human_bytes(free)} free, dump is {human_bytes(manifest.dump_bytes)})",
        )
    return "staged", f"{human_bytes(free)} free on the staging disk"


def human_age(seconds: float) -> str:
    if seconds < 90:
        return f"{int(seconds)} s"
    if seconds < 90 * 60:
        return f"{int(seconds // 60)} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def estimate(state: RestoreState | None, dump_bytes: int) -> tuple[float | None, str]:
    """Scale the duration of the past restore closest in size; None when there is none."""
    if state is None:
        return None, "no restore history"
    history = state.kv_get(HISTORY_KEY, []) or []
    usable = [h for h in history if h.get("bytes", 0) > 0 and h.get("seconds", 0) > 0]
    if not usable:
        return None, "no earlier restore to compare with"
    size = max(dump_bytes, 1)
    best = min(usable, key=lambda h: abs((h["bytes"] / size) - 1))
    ratio = size / best["bytes"]
    # Fixed costs (lock, hooks, a small safety dump) dominate small restores: scale up, never down.
    seconds = best["seconds"] * max(ratio, 1.0)
    return (
        seconds,
        f"last restore of {human_bytes(best['bytes'])} into {best.get('target', '?')} took {best['seconds']:.0f} s",
    )


def remember(state: RestoreState | None, target: str, dump_bytes: int, seconds: float) -> None:
    if state is None:
        return
    history = list(state.kv_get(HISTORY_KEY, []) or [])
    history.append(
        {
            "target": target,
            "bytes": dump_bytes,
            "seconds": round(seconds, 2),
            "at": datetime.now(UTC).isoformat(),
        }
    )
    state.kv_set(HISTORY_KEY, history[-HISTORY_LIMIT:])


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
        warnings.append(f"{len(info.sessions)} open sessions: the restore will wait for them to end")
    mode, why = choose_mode(cfg, target, manifest)
    seconds, basis = estimate(state, manifest.dump_bytes)
    from engine import restore_card, restore_swap

    try:
        method, method_why = restore_swap.choose_method(db, url)
    except RestoreError as exc:
        method, method_why = "swap", exc.message
        blocking.append(exc.message)
    largest = ", ".join(f"{name} {human_bytes(size)}" for name, size in info.largest[:3])
    fields = {
        "Backup": f"{manifest.id} ({manifest.kind}, database {manifest.database}, "
        f"{human_age(manifest.age_seconds())} old, {human_bytes(manifest.stored_bytes)} stored, "
        f"taken by {_person(manifest.requested_by)})",
        "Target": f"{target} ({info.where}), PostgreSQL {info.server_version}",
        "Will overwrite": f"{info.tables} table{'' if info.tables == 1 else 's'}, {human_bytes(info.size_bytes)}"
        + (f" (largest: {largest})" if largest else ""),
        "Backup holds": f"{archive.describe()}; dump {human_bytes(manifest.dump_bytes)}",
        "Versions": f"archive from PostgreSQL {pg_inspect.major(archive.dumped_from) or '?'} "
        f"(pg_dump {archive.dumped_by.split(' ')[0] or '?'}), target {info.server_version.split(' ')[0]}",
        "Open sessions": (
            f"{len(info.sessions)} ({db.restore_sessions} before restoring): "
            + "; ".join(s.describe() for s in info.sessions[:3])
            if info.sessions
            else "none"
        ),
        "Restore method": restore_card.method_line(method, method_why, db, why),
        "Safety dump": restore_card.safety_line(db, url),
        "Backup has roles": restore_card.globals_line(manifest),
        "Expected duration": f"about {human_age(seconds)} ({basis})" if seconds is not None else basis,
    }
    if method == "swap":
        fields["Will overwrite"] = (
            f"the whole database: {fields['Will overwrite']}; it is renamed, not dropped, and kept "
            f"{db.keep_previous_hours:g} h"
        )
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
            f"restore of {pre.manifest.id} into '{pre.target}' cannot run",
            detail="; ".join(pre.blocking),
            hint="Nothing was changed. Fix the above and request the restore again.",
        )


def target_state(failed: str, mode: str, maintenance: bool = True) -> str:
    """The target's state in words after ``failed`` step stopped the run.

    ``maintenance`` is False when no maintenance_on hook is configured: then the app was
    never put in maintenance, and saying "still in maintenance" would send people looking.
    """
    state = {
        "lock": "unchanged",
        "safety_dump": "unchanged (no safety dump was stored, so nothing was restored)",
        "maintenance_on": "unchanged; maintenance mode may be partly on",
        "restore": (
            "unchanged (pg_restore had not started), still in maintenance"
            if mode == "not started"
            else "unchanged (the restore was rolled back), still in maintenance"
            if mode == "streamed"
            else "partially restored, still in maintenance"
        ),
        "migrate": "restored, migrations failed, still in maintenance",
        "health": "restored and migrated, health checks failed, still in maintenance",
        "maintenance_off": "restored, migrated and checked, but maintenance-off failed: the app may still be down",
        "runbook": "restored and back in service; only the runbook entry is incomplete",
    }.get(failed, "unknown")
    return state if maintenance else state.replace(", still in maintenance", "")


class RestoreFailed(RestoreError):
    """A step stopped the run; ``report`` has every step, the target's state and the undo command."""

    def __init__(
        self, message: str, detail: str | None = None, hint: str | None = None, report: Any = None
    ) -> None:
        super().__init__(message, detail, hint)
        self.report = report


def plan_lines(cfg: Config, target: str, mode: str, method: str = "clean") -> list[str]:
    """The steps as they would run for ``target``, with the real commands in them."""
    db = cfg.database(target)
    if method == "swap":
        from engine.restore_card import swap_plan_lines

        return swap_plan_lines(db, mode)

    def hook(value: object) -> str:
        return hooks.describe(value) if hooks.is_configured(value) else "skipped (not configured)"  # type: ignore[arg-type]

    owner = "--no-owner" if db.restore_owner == "no-owner" else "owners kept"
    how = (
        f"staged on disk, pg_restore -j {db.restore_jobs}"
        if mode == "staged"
        else "streamed, one transaction"
    )
    migrate = (
        " ".join(db.migrate) + (f" (in {db.migrate_cwd})" if db.migrate_cwd else "")
        if db.migrate
        else "skipped"
    )
    where = ", ".join(w for w in (f"bucket runbook/{target}/", db.runbook_file) if w)
    return [
        f"1. Lock target '{target}'",
        f"2. Safety dump of '{target}' (kind pre-restore)",
        f"3. Maintenance on: {hook(db.maintenance_on)}",
        f"4. Restore: {db.restore_sessions} open sessions, pg_restore --clean --if-exists {owner} ({how})",
        f"5. Migrate: {migrate}",
        f"6. Health checks: {'; '.join(db.health_checks) or 'none configured'}",
        f"7. Maintenance off: {hook(db.maintenance_off)}",
        f"8. Runbook entry: channel, {where}",
    ]


def undo_command(safety_id: str, target: str, restore_id: str) -> str:
    return f'backupbot restore {safety_id} --target {target} --break-glass --reason "undo {restore_id}"'


def next_action(
    failed: str | None, db: DatabaseConfig, safety_id: str | None, target: str, restore_id: str
) -> tuple[str | None, str | None]:
    """(what to do next, the undo command) for a run stopped at step ``failed``."""
    undo = undo_command(safety_id, target, restore_id) if safety_id else None
    off = hooks.describe(db.maintenance_off) if hooks.is_configured(db.maintenance_off) else ""
    off_text = f" then take the app out of maintenance (`{off}`)" if off else ""
    if failed in (None, "runbook"):
        return None, undo
    if failed in ("lock", "safety_dump"):
        return "fix the cause above and request the restore again; the target was not touched.", None
    if failed == "maintenance_on":
        return (
            f"the target was not restored; check the app{(' and run `' + off + '`') if off else ''}, "
            "fix the hook, and request the restore again."
        ), undo
    if failed == "maintenance_off":
        return f"the data is in place; bring the app back by hand (`{off}`).", undo
    migrate = " ".join(db.migrate)
    finish = {
        "restore": "fix the cause and request the restore again",
        "migrate": f"fix the migration and run it by hand (`{migrate}`"
        + (f" in {db.migrate_cwd}" if db.migrate_cwd else "")
        + ")",
        "health": "check the data and decide",
    }[failed]
    off_text = f",{off_text}" if off_text else ""
    return f"either {finish}{off_text}; or put back what was there before with `{undo}`{off_text}.", undo
