"""One step of a run that people follow in a thread: timed, reported when it starts and ends.

A restore, a Neon restore and a verification each post a line when a step starts and when it
ends (with its duration), and a failed step's line says why without letting a secret through.
One context manager keeps those three promises the same everywhere.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from core.errors import BackupbotError
from core.redact import redact

R = TypeVar("R", bound=Any)  # a step record: .status, .seconds, .detail


@contextmanager
def timed_step(rec: R, on_step: Callable[[R], None], secrets: Sequence[str] = ()) -> Iterator[R]:
    """Mark ``rec`` running, yield it, then ok (unless the body set another status) or failed."""
    rec.status = "running"
    on_step(rec)
    started = time.monotonic()
    try:
        yield rec
    except BaseException as exc:
        rec.status, rec.seconds = "failed", time.monotonic() - started
        rec.detail = redact(
            exc.message if isinstance(exc, BackupbotError) else type(exc).__name__, tuple(secrets)
        )
        on_step(rec)
        raise
    rec.seconds = time.monotonic() - started
    if rec.status == "running":
        rec.status = "ok"
    rec.detail = redact(rec.detail or "", tuple(secrets))
    on_step(rec)
