"""Every kind of job the runner can run, by name.

A kind is one module here defining ``KIND = JobKind(...)``, plus one line in
``_MODULES``. Modules are imported on first use so a kind whose dependencies are
missing cannot stop the others (or the bot) from starting.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from dataclasses import dataclass

from core.errors import BackupbotError
from core.i18n import _
from jobs.context import JobContext
from jobs.events import Outcome

_MODULES: dict[str, str] = {
    "branch": "jobs.kinds.branch",
    "dump": "jobs.kinds.dump",
    "drill": "jobs.kinds.drill",
    "files_sync": "jobs.kinds.files_sync",
    "files_verify": "jobs.kinds.files_verify",
    "prune": "jobs.kinds.prune",
    "restore": "jobs.kinds.restore",
    "restore_table": "jobs.kinds.restore_table",
    "verify": "jobs.kinds.verify",
}


@dataclass(frozen=True)
class JobKind:
    name: str
    run: Callable[[JobContext], Outcome]
    # Called once when a job of this kind is found dead (process killed mid-run), to
    # clean up what it left behind, e.g. abort partial multipart uploads; returns a
    # sentence for the people told about the interruption.
    on_interrupted: Callable[[JobContext], str | None] | None = None
    description: str = ""


_loaded: dict[str, JobKind] = {}
_lock = threading.Lock()


def register(kind: JobKind) -> None:
    """Add a kind at run time (tests, plugins); a module listed in ``_MODULES`` needs no call."""
    with _lock:
        _loaded[kind.name] = kind


def names() -> list[str]:
    return sorted(set(_MODULES) | set(_loaded))


def get_kind(name: str) -> JobKind:
    with _lock:
        if name in _loaded:
            return _loaded[name]
        module = _MODULES.get(name)
        if module is None:
            raise BackupbotError(
                _("unknown job kind '{kind}'").format(kind=name),
                detail=_("Known kinds: {kinds}.").format(kinds=", ".join(names())),
                hint=_("The job was written by a newer or older version of backupbot; queue it again."),
            )
        kind: JobKind = importlib.import_module(module).KIND
        _loaded[name] = kind
        return kind
