"""Two restore steps that stand on their own: the target's lock, and the health checks.

The lock lives in the bot's store (one SQLite file shared by the bot, ``python -m jobs``
and the break-glass CLI), so a second restore of the same target is refused with the
name of whoever holds it, whichever surface it came from; a heartbeat keeps it fresh and
a dead process's lock lapses after a few minutes instead of blocking the target forever.
Health checks are the team's own SQL, run read-only with a time limit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from typing import Any

import psycopg

from core.config import DatabaseConfig
from core.errors import BackupbotError, RestoreError
from core.i18n import _
from core.redact import redact
from engine.restore_plan import RestoreState

LOCK_TTL_SECONDS = 300.0  # refreshed every minute while the run lives; a dead run frees it soon


def lock_name(target: str) -> str:
    return f"restore:{target}"


@contextmanager
def target_lock(state: RestoreState | None, target: str, holder: str, job_id: int | None) -> Iterator[None]:
    """The store's lock on the target, kept fresh by a heartbeat; refused with who holds it."""
    if state is None:
        yield
        return
    name = lock_name(target)
    if not state.acquire_lock(name, holder, job_id=job_id, ttl_seconds=LOCK_TTL_SECONDS):
        held = state.lock_holder(name) or {}
        raise RestoreError(
            _("'{target}' is already being restored by {holder}").format(
                target=target, holder=held.get("holder") or _("another run")
            ),
            detail=_("The lock {name} was taken at {when}.").format(
                name=name, when=held.get("acquired_at", "?")
            ),
            hint=_(
                "Wait for that restore to finish (its thread in the channel says how far it is), then run this "
                "one again."
            ),
        )
    stop = threading.Event()

    def refresh() -> None:
        while not stop.wait(60):
            state.acquire_lock(name, holder, job_id=job_id, ttl_seconds=LOCK_TTL_SECONDS)

    beat = threading.Thread(target=refresh, name=f"lock-{target}", daemon=True)
    beat.start()
    try:
        yield
    finally:
        stop.set()
        beat.join(timeout=5)
        state.release_lock(name, holder)


def run_health_checks(url: str, db: DatabaseConfig, secrets: list[str]) -> str:
    """Each configured SQL must return a row whose first value is not false/NULL; read-only."""
    results: list[str] = []
    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        for sql in db.health_checks:
            try:
                with conn.transaction():
                    conn.execute("SET TRANSACTION READ ONLY")
                    conn.execute(f"SET LOCAL statement_timeout = {int(db.hook_timeout_seconds) * 1000}")
                    row = conn.execute(sql).fetchone()  # type: ignore[call-overload]
            except psycopg.Error as exc:
                raise RestoreError(
                    _("health check failed on '{db}': {sql}").format(db=db.name, sql=sql),
                    detail=redact(str(exc).strip(), secrets),
                    hint=_("Fix the query in health_checks, or look at what the restore left behind."),
                ) from None
            if row is None or row[0] is None or row[0] is False:
                got = _("no rows") if row is None else repr(row[0])
                raise RestoreError(
                    _("health check failed on '{db}': {sql}").format(db=db.name, sql=sql),
                    detail=_(
                        "It returned {got}; a check passes when it returns a row whose first value is true."
                    ).format(got=got),
                    hint=_("Look at the restored data before taking the app out of maintenance."),
                )
            results.append(f"`{sql}` → {row[0]!r}")  # the SQL is the team's syntax: shown as code
    return "; ".join(results) or _("none configured")


def run_locked(
    report: Any,
    req: Any,
    step: Callable[[str], AbstractContextManager[Any]],
    state: RestoreState | None,
    secrets: Sequence[str],
    steps: Callable[[], None],
    after_lock: Callable[[], None] | None = None,
) -> tuple[str | None, BackupbotError | None]:
    """Take the target's lock as the "lock" step, run ``steps`` under it; never raise.

    Both restores (a dump's and a Neon one) end the same way whatever happened: the failed
    step's key and the error as a person reads it, so the caller can still write the runbook
    entry and say the target's state. An exception that is not ours becomes a RestoreError
    without its text's secrets.
    """
    holder = (
        _("restore {id} asked by {who} (job {job})").format(
            id=report.restore_id, who=req.requested_by, job=req.job_id
        )
        if req.job_id
        else _("restore {id} asked by {who}").format(id=report.restore_id, who=req.requested_by)
    )
    try:
        with ExitStack() as held:
            with step("lock") as rec:
                held.enter_context(target_lock(state, req.target, holder, req.job_id))
                rec.detail = _("held by {holder}").format(holder=holder)
                if after_lock is not None:
                    after_lock()
            steps()
    except Exception as exc:  # every failure still gets its runbook entry and its "what now"
        failed = next((s.key for s in report.steps if s.status == "failed"), "lock")
        if isinstance(exc, BackupbotError):
            return failed, exc
        return failed, RestoreError(
            _("unexpected {error} in the restore").format(error=type(exc).__name__),
            detail=redact(str(exc), secrets)[:1000],
            hint=_("The bot's log has the details."),
        )
    return None, None
