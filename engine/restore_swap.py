"""The swap restore: build the backup into a new database, then rename it into place.

Why: ``pg_restore --clean`` into the live database cannot drop a partition's inherited
constraints, nor a table that an object outside the backup depends on, and whatever
only the target has stays. A fresh database has nothing in the way, so the result is
exactly the backup; the old database is renamed, not dropped, so every write up to the
switch is kept and ``undo`` is two renames. The target is only touched by the switch,
which is one transaction: any failure before or in it leaves the target as it was.

What each swap is doing is written to the store before it happens, one kv row per restore
(``restore:swap:<restore id>``, read, merged and written in one store transaction, so two
processes updating records at once never lose each other's fields), so a worker killed
mid-swap is cleaned up on restart (the half-built database dropped, never the target),
``undo`` finds the previous database, and the scheduler drops it after
``keep_previous_hours``. Records whose kept database is gone (or that never kept one) are
deleted ``KEEP_RECORDS`` after their last change, so the store does not grow forever.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from adapters import pg_databases
from core.config import Config, DatabaseConfig
from core.errors import RestoreError, UsageError
from core.i18n import N_, _
from engine.restore_plan import RestoreState, store_stamp

PREFIX = "restore:swap:"  # one kv row per swap restore
LEGACY_KEY = "restore:swaps"  # before: every record in one kv value (moved to rows when met)
KEEP_RECORDS = timedelta(days=90)
# Phases after which nothing is kept on the server any more: the record only tells history.
FINISHED = ("dropped", "undone-dropped", "discarded", "abandoned")

SWAP_STEPS: tuple[tuple[str, str], ...] = (
    ("lock", N_("Lock target")),
    ("safety_dump", N_("Safety dump")),
    ("maintenance_on", N_("Maintenance on")),
    ("restore", N_("Restore into a new database")),
    ("migrate", N_("Migrate the new database")),
    ("health", N_("Health checks on the new database")),
    ("switch", N_("Switch databases")),
    ("maintenance_off", N_("Maintenance off")),
    ("runbook", N_("Runbook entry")),
)
# maintenance = "switch": the app keeps serving from the old database until just before the renames.
SWITCH_STEPS: tuple[tuple[str, str], ...] = (
    SWAP_STEPS[0],
    SWAP_STEPS[1],
    SWAP_STEPS[3],
    SWAP_STEPS[4],
    SWAP_STEPS[5],
    SWAP_STEPS[2],
    *SWAP_STEPS[6:],
)


def steps_for(db: DatabaseConfig) -> tuple[tuple[str, str], ...]:
    return SWITCH_STEPS if db.maintenance == "switch" else SWAP_STEPS


@dataclass(frozen=True)
class SwapNames:
    target: str  # the database name in the restore URL
    new: str  # where the backup is built
    previous: str  # what the target is renamed to


def _stamp(restore_id: str) -> str:
    m = re.search(r"(\d{8}T\d{6}Z)", restore_id)
    return (m.group(1) if m else re.sub(r"[^0-9A-Za-z]", "", restore_id)[-16:]).lower()


def names_for(dbname: str, restore_id: str) -> SwapNames:
    """``<name>_before_<stamp>`` and ``<name>_restoring_<stamp>``, shortened to fit 63 bytes."""
    stamp = _stamp(restore_id)

    def fit(suffix: str) -> str:
        room = pg_databases.MAX_NAME - len(suffix.encode())
        base = dbname.encode()[:room].decode("utf-8", "ignore")
        return base + suffix

    return SwapNames(dbname, fit(f"_restoring_{stamp}"), fit(f"_before_{stamp}"))


def choose_method(db: DatabaseConfig, url: str) -> tuple[str, str]:
    """("swap" or "clean", why) from ``restore_method`` and what the restore role may do."""
    if db.restore_method == "clean":
        return "clean", 'restore_method = "clean"'
    ok, why = pg_databases.swap_rights(url)
    if db.restore_method == "swap":
        if not ok:
            raise RestoreError(
                _('restore_method = "swap" but the restore role cannot swap databases: {why}').format(
                    why=why
                ),
                hint=_(
                    "Grant the restore role CREATEDB and make it the owner of the database, or set "
                    'restore_method = "clean".'
                ),
            )
        return "swap", f'restore_method = "swap"; {why}'
    if ok:
        return "swap", _("{why}: the backup is built in a new database and switched in").format(why=why)
    return "clean", _("{why}: restoring in place with pg_restore --clean").format(why=why)


def swap_state(failed: str, names: SwapNames, maintenance_ran: bool, maintenance: bool) -> str:
    """The target's state in words after step ``failed`` stopped a swap restore."""
    if failed == "lock":
        return _("unchanged")
    if failed == "safety_dump":
        return _("unchanged (no safety dump was stored, so nothing was restored)")
    if failed == "maintenance_on":
        return _(
            "unchanged, serving under its name ({target}); the new database {new} was dropped; maintenance "
            "mode may be partly on"
        ).format(target=names.target, new=names.new)
    if failed in ("roles", "restore", "migrate", "health", "switch"):
        if maintenance and maintenance_ran:
            return _(
                "unchanged, serving under its name ({target}); the new database {new} was dropped, still in "
                "maintenance"
            ).format(target=names.target, new=names.new)
        return _("unchanged, serving under its name ({target}); the new database {new} was dropped").format(
            target=names.target, new=names.new
        )
    if failed == "maintenance_off":
        return _(
            "restored (the new database is now {target}, the replaced one kept as {previous}), but "
            "maintenance-off failed: the app may still be down"
        ).format(target=names.target, previous=names.previous)
    if failed == "runbook":
        return _("restored and back in service; only the runbook entry is incomplete")
    return _("unknown")


def next_action(
    failed: str | None,
    db: DatabaseConfig,
    safety_id: str | None,
    target: str,
    restore_id: str,
    switched: bool,
    in_maintenance: bool = True,
) -> tuple[str | None, str | None]:
    """(what to do next, the undo command) for a swap stopped at ``failed``; undo only once switched."""
    from adapters import hooks

    undo = undo_command(restore_id) if switched else None
    off = hooks.describe(db.maintenance_off) if hooks.is_configured(db.maintenance_off) else ""
    if failed in (None, "runbook"):
        return None, undo
    if failed in ("lock", "safety_dump"):
        return _("fix the cause above and request the restore again; the target was not touched."), None
    if failed == "maintenance_off":
        return (
            _(
                "the data is in place; bring the app back by hand (`{off}`), or swap back with `{undo}`."
            ).format(off=off, undo=undo),
            undo,
        )
    if off and in_maintenance:
        return (
            _(
                "the target was not changed and still serves under its name: fix the cause above, then take "
                "the app out of maintenance (`{off}`), and request the restore again."
            ).format(off=off),
            None,
        )
    return (
        _(
            "the target was not changed and still serves under its name: fix the cause above, and request the "
            "restore again."
        ),
        None,
    )


# ------------------------------------------------------------------ the store's record


def _move_legacy(db: Any) -> None:
    """Records kept in one kv value (before one row each) become rows; the old value goes."""
    rows = list(db.query("SELECT value FROM kv WHERE key = ?", [LEGACY_KEY]))
    if not rows:
        return
    for rid, rec in (json.loads(rows[0]["value"]) or {}).items():
        if not list(db.query("SELECT key FROM kv WHERE key = ?", [PREFIX + rid])):
            db.execute(
                "INSERT OR REPLACE INTO kv (key, value, updated_at) VALUES (?, ?, ?)",
                [PREFIX + rid, json.dumps(rec, default=str), store_stamp()],
            )
    db.execute("DELETE FROM kv WHERE key = ?", [LEGACY_KEY])


def records(state: RestoreState | None) -> dict[str, dict[str, Any]]:
    """Every swap record by restore id, oldest first."""
    if state is None:
        return {}
    with state.transaction() as db:
        _move_legacy(db)
        rows = list(
            db.query("SELECT key, value FROM kv WHERE key LIKE ? ORDER BY updated_at, key", [PREFIX + "%"])
        )
    found = {r["key"][len(PREFIX) :]: json.loads(r["value"]) for r in rows}
    return dict(sorted(found.items(), key=lambda kv: (str(kv[1].get("created_at", "")), kv[0])))


def remember(state: RestoreState | None, restore_id: str, **fields: Any) -> dict[str, Any]:
    """Merge ``fields`` into the record of ``restore_id``: read and written in one store transaction."""
    if state is None:
        return dict(fields)
    now = store_stamp()
    with state.transaction() as db:
        _move_legacy(db)
        rows = list(db.query("SELECT value FROM kv WHERE key = ?", [PREFIX + restore_id]))
        before = json.loads(rows[0]["value"]) if rows else {"created_at": now}
        rec = {**before, **fields, "restore_id": restore_id, "updated_at": now}
        db.execute(
            "INSERT OR REPLACE INTO kv (key, value, updated_at) VALUES (?, ?, ?)",
            [PREFIX + restore_id, json.dumps(rec, default=str), now],
        )
    return rec


def prune_records(state: RestoreState, now: datetime, keep: timedelta = KEEP_RECORDS) -> int:
    """Delete records whose kept database is gone (or never was) and that did not change for ``keep``."""
    cutoff = store_stamp(now - keep)
    gone = 0
    with state.transaction() as db:
        _move_legacy(db)
        rows = list(db.query("SELECT key, value, updated_at FROM kv WHERE key LIKE ?", [PREFIX + "%"]))
        for row in rows:
            rec = json.loads(row["value"])
            if rec.get("phase") in FINISHED and str(row["updated_at"]) < cutoff:
                gone += db.execute("DELETE FROM kv WHERE key = ?", [row["key"]]).rowcount
    return gone


def prepare(url: str, names: SwapNames) -> None:
    """An empty new database like the target; a leftover of the same name (a dead run) is dropped first."""
    if names.new == names.target:
        raise RestoreError(_("refusing to build the restore into the target itself"))
    with pg_databases.maintenance_connection(url) as conn:
        pg_databases.drop(conn, names.new)
        pg_databases.create_like(conn, names.new, names.target)


def discard(url: str, names: SwapNames) -> bool:
    """Drop the half-built or unused new database; never the target."""
    if names.new in (names.target, names.previous):
        return False
    with pg_databases.maintenance_connection(url) as conn:
        return pg_databases.drop(conn, names.new)


def switch(
    url: str, names: SwapNames, db: DatabaseConfig, state: RestoreState | None, restore_id: str, now: datetime
) -> pg_databases.Switched:
    """Rename target → previous and new → target in one transaction, carrying over what is the database's."""
    remember(state, restore_id, phase="switching")
    with pg_databases.maintenance_connection(url) as conn:
        done = pg_databases.switch(
            conn,
            target=names.target,
            new=names.new,
            previous=names.previous,
            sessions=db.restore_sessions,
            timeout=db.hook_timeout_seconds,
        )
    remember(
        state,
        restore_id,
        phase="switched",
        switched_at=now.isoformat(),
        drop_after=(now + timedelta(hours=db.keep_previous_hours)).isoformat(),
    )
    return done


def recover(url: str, rec: dict[str, Any], state: RestoreState | None) -> str:
    """After a dead run: drop its half-built database and let the target accept connections again."""
    names = SwapNames(rec["target_db"], rec["new"], rec["previous"])
    phase = rec.get("phase")
    if phase not in ("building", "built", "switching"):
        return ""
    with pg_databases.maintenance_connection(url) as conn:
        if (
            pg_databases.exists(conn, names.target)
            and pg_databases.allows_connections(conn, names.target) is False
        ):
            pg_databases.set_connections(conn, names.target, True)
        if pg_databases.exists(conn, names.previous) and not pg_databases.exists(conn, names.target):
            # Cannot happen through the one-transaction switch; never leave the app without its database.
            pg_databases.rename(conn, names.previous, names.target)
        dropped = names.new != names.target and pg_databases.drop(conn, names.new)
    remember(state, rec["restore_id"], phase="abandoned")
    if dropped:
        return _(
            "The half-built database {new} was dropped; {target} was not changed and serves under its name."
        ).format(new=names.new, target=names.target)
    return _("No half-built database was left; {target} was not changed and serves under its name.").format(
        target=names.target
    )


# ------------------------------------------------------------------------- undo


def find(state: RestoreState | None, restore_id: str) -> dict[str, Any]:
    rec = records(state).get(restore_id)
    if rec is None:
        raise UsageError(
            _("no swap restore with id '{id}'").format(id=restore_id),
            detail=_("Only restores run with the swap method keep the previous database for an undo."),
            hint=_("The restore's thread and runbook entry show its id and its undo command."),
        )
    return rec


def undo_command(restore_id: str) -> str:
    return f'backupbot undo {restore_id} --break-glass --reason "undo {restore_id}"'


def undo(
    cfg: Config,
    state: RestoreState | None,
    restore_id: str,
    now: datetime | None = None,
    *,
    holder: str = "undo",
    job_id: int | None = None,
) -> str:
    """Put the previous database back under the target's name; the undone one is kept as ``_undone_``."""
    from engine.restore_steps import target_lock

    rec = find(state, restore_id)
    with target_lock(
        state, rec["target"], _("undo of {id} by {who}").format(id=restore_id, who=holder), job_id
    ):
        return _undo(cfg, state, restore_id, rec, now)


def _undo(
    cfg: Config, state: RestoreState | None, restore_id: str, rec: dict[str, Any], now: datetime | None
) -> str:
    if rec.get("phase") != "switched":
        raise RestoreError(
            _("restore {id} cannot be undone by a swap: it is {phase}").format(
                id=restore_id, phase=rec.get("phase", "unknown")
            ),
            detail=_(
                "Only a restore that switched databases, whose previous database is still kept, can be swapped back."
            ),
            hint=_("Restore its safety dump instead (the runbook entry names it)."),
        )
    db = cfg.database(rec["target"])
    url = db.restore_url()
    stamp = _stamp(restore_id)
    room = pg_databases.MAX_NAME - len(f"_undone_{stamp}")
    undone = rec["target_db"][:room] + f"_undone_{stamp}"
    with pg_databases.maintenance_connection(url) as conn:
        if not pg_databases.exists(conn, rec["previous"]):
            raise RestoreError(
                _("the previous database {name} is gone; nothing was changed").format(name=rec["previous"]),
                hint=_("Restore the safety dump instead (the runbook entry names it)."),
            )
        done = pg_databases.switch(
            conn,
            target=rec["target_db"],
            new=rec["previous"],
            previous=undone,
            sessions=db.restore_sessions,
            timeout=db.hook_timeout_seconds,
            carry=False,
        )
    when = (now or datetime.now(UTC)).astimezone(UTC)
    remember(
        state,
        restore_id,
        phase="undone",
        undone_at=when.isoformat(),
        undone_db=undone,
        drop_after=(when + timedelta(hours=db.keep_previous_hours)).isoformat(),
    )
    values = {
        "db": rec["target_db"],
        "id": restore_id,
        "seconds": f"{done.seconds:.1f}",
        "n": done.sessions,
        "undone": undone,
        "hours": f"{db.keep_previous_hours:g}",
    }
    if done.sessions:
        return _(
            "{db} is back as it was before {id} (switched in {seconds} s, {n} sessions ended); the restored "
            "database is kept as {undone} for {hours} h."
        ).format(**values)
    return _(
        "{db} is back as it was before {id} (switched in {seconds} s); the restored database is kept as "
        "{undone} for {hours} h."
    ).format(**values)


# ------------------------------------------------------------- dropped after their time


@dataclass(frozen=True)
class Expired:
    restore_id: str
    target: str
    database: str  # what was dropped
    job_id: int | None
    message: str


def drop_expired(cfg: Config, state: RestoreState, now: datetime) -> list[Expired]:
    """Drop kept databases whose time is up; one ``Expired`` (with the message to post) per drop."""
    out: list[Expired] = []
    for rid, rec in records(state).items():
        phase = rec.get("phase")
        if phase not in ("switched", "undone") or not rec.get("drop_after"):
            continue
        if datetime.fromisoformat(rec["drop_after"]) > now:
            continue
        name = rec["previous"] if phase == "switched" else rec.get("undone_db", "")
        if not name or name == rec.get("target_db"):
            continue
        try:
            url = cfg.database(rec["target"]).restore_url()
            with pg_databases.maintenance_connection(url) as conn:
                gone = pg_databases.drop(conn, name)
        except Exception as exc:  # noqa: BLE001 - tried again next pass; the message says why
            remember(state, rid, drop_error=type(exc).__name__)
            continue
        remember(
            state,
            rid,
            phase="dropped" if phase == "switched" else "undone-dropped",
            dropped_at=now.isoformat(),
        )
        values = {"name": name, "id": rid, "hours": f"{cfg.database(rec['target']).keep_previous_hours:g}"}
        if phase == "switched":
            text = (
                _(
                    "{name} (the database it replaced in restore {id}) was dropped after {hours} h; it can no "
                    "longer be swapped back."
                )
                if gone
                else _(
                    "{name} (the database it replaced in restore {id}) was already gone after {hours} h; it can "
                    "no longer be swapped back."
                )
            ).format(**values)
        else:
            text = (
                _(
                    "{name} (the restored database it undid in restore {id}) was dropped after {hours} h; it can "
                    "no longer be swapped back."
                )
                if gone
                else _(
                    "{name} (the restored database it undid in restore {id}) was already gone after {hours} h; it "
                    "can no longer be swapped back."
                )
            ).format(**values)
        if rec.get("safety_id") and phase == "switched":
            text += " " + _("The safety dump {id} still holds it.").format(id=rec["safety_id"])
        out.append(Expired(rid, rec["target"], name, rec.get("job_id"), text))
    prune_records(state, now)
    return out
