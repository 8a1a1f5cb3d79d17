"""The restore side of PostgreSQL: deal with open sessions, then ``pg_restore`` into the target.

Two ways in. When there is room on local disk the plain dump is staged to a file and
restored with ``pg_restore -j N`` (parallel data load and index builds, the fast path);
otherwise it is streamed through stdin inside ``--single-transaction``, so a failure
rolls back and leaves the target as it was. The password never reaches a command line
(``ps`` shows those): it travels in ``PGPASSWORD``, and everything pg_restore prints is
redacted before anyone sees it.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from adapters.pg_inspect import STDERR_TAIL_CHARS, _sessions, connect_target
from adapters.pg_offsets import OffsetFinder
from core.errors import RestoreError
from core.i18n import _, ngettext
from core.redact import redact

DEFAULT_MAINTENANCE_WORK_MEM = "512MB"


@dataclass(frozen=True)
class RestoreResult:
    mode: str  # "staged -j N" or "streamed, single transaction": a key the engine reads and stores
    bytes: int
    seconds: float
    warnings: str = ""
    text: str = ""  # the same as people read it, in the configured language

    @property
    def said(self) -> str:
        return self.text or self.mode


def clear_sessions(url: str, database: str, mode: str, timeout: float) -> int:
    """Terminate the target's other sessions, or wait for them to end; returns how many there were."""
    # One connection for listing, ending and watching: a connection per poll would leave its own
    # backend exiting in pg_stat_activity for a moment after it closed, and the next poll (or the
    # last look) would count it as a session still open.
    with connect_target(url, database) as conn:
        sessions = _sessions(conn)
        if not sessions:
            return 0
        if mode == "terminate":
            for s in sessions:
                conn.execute("SELECT pg_terminate_backend(%s)", (s.pid,))
            deadline = time.monotonic() + 10
            while _sessions(conn) and time.monotonic() < deadline:
                time.sleep(0.1)
        else:
            deadline = time.monotonic() + timeout
            while _sessions(conn) and time.monotonic() < deadline:
                time.sleep(0.5)
        left = _sessions(conn)
    if left:
        if mode == "terminate":
            message = ngettext(
                "{n} sessions are still open on '{db}'; nothing was restored",
                "{n} sessions are still open on '{db}'; nothing was restored",
                len(left),
            )
        else:
            message = ngettext(
                "{n} sessions are still open on '{db}' after waiting {seconds} s; nothing was restored",
                "{n} sessions are still open on '{db}' after waiting {seconds} s; nothing was restored",
                len(left),
            )
        raise RestoreError(
            message.format(n=len(left), db=database, seconds=f"{timeout:g}"),
            detail="; ".join(s.describe() for s in left[:5]),
            hint=_(
                'Stop the app (maintenance mode) or set `restore_sessions = "terminate"` and give the '
                "restore role pg_signal_backend."
            ),
        )
    return len(sessions)


MAINTENANCE_WORK_MEM_RE = re.compile(r"^[1-9][0-9]*(kB|MB|GB)$")


def session_options(maintenance_work_mem: str) -> str:
    """Settings for pg_restore's own connections, passed in ``PGOPTIONS``.

    ``maintenance_work_mem``: each primary key and index is built after its table's data
    is in; with the server's default (64 MB) a large table's index is sorted on disk
    (pgbench_accounts at 7 M rows: 2.7 s → 1.8 s with 512 MB). With ``-j N`` up to N
    builds run at once, so the server may use N times this much, briefly.

    ``synchronous_commit=off``: pg_restore -j commits once per table and per index; none
    of those commits needs to wait for its WAL flush, because a restore interrupted by a
    server crash is never trusted anyway — the step fails and is run again (the safety
    dump of what was there is already stored). Before success is reported,
    ``_make_durable`` flushes the WAL once, so nothing acknowledged can be lost.
    """
    if not MAINTENANCE_WORK_MEM_RE.match(maintenance_work_mem):
        raise RestoreError(
            _("restore_maintenance_work_mem = {value} is not a size").format(
                value=repr(maintenance_work_mem)
            ),
            hint=_('Write it as a number with kB, MB or GB, e.g. "512MB".'),
        )
    return f"-c maintenance_work_mem={maintenance_work_mem} -c synchronous_commit=off"


def _command(
    url: str, owner: str, maintenance_work_mem: str = DEFAULT_MAINTENANCE_WORK_MEM, clean: bool = True
) -> tuple[list[str], dict[str, str], str]:
    """argv, env and the password to redact; the password goes to PGPASSWORD, never to argv.

    ``clean`` is False for a restore into a fresh, empty database (swap): nothing to drop.
    """
    params = conninfo_to_dict(url)
    password = str(params.pop("password", "") or "")
    argv = [
        "pg_restore",
        *(("--clean", "--if-exists") if clean else ()),
        f"--dbname={make_conninfo(**params)}",
    ]  # type: ignore[arg-type]
    if owner == "no-owner":
        argv.append("--no-owner")
    env = dict(os.environ)
    if password:
        env["PGPASSWORD"] = password
    env["PGOPTIONS"] = " ".join(
        o for o in (env.get("PGOPTIONS", ""), session_options(maintenance_work_mem)) if o
    )
    return argv, env, password


def _make_durable(url: str, database: str) -> None:
    """One synchronous commit flushes the WAL up to it, and so every asynchronous commit before it."""
    with connect_target(url, database) as conn, conn.transaction():
        conn.execute("SET LOCAL synchronous_commit = on")
        conn.execute("SELECT pg_current_xact_id()")  # an xid makes the commit write (and flush) a record


def _failure(database: str, mode: str, code: int, stderr: str) -> RestoreError:
    if mode.startswith("streamed"):
        state = _("target state: unchanged (the restore ran in one transaction and was rolled back)")
    else:
        state = _("target state: partially restored")
    return RestoreError(
        _("pg_restore into '{db}' failed with exit code {code}").format(db=database, code=code),
        detail=f"{state}\n{stderr[-STDERR_TAIL_CHARS:]}",
        hint=_(
            "Read pg_restore's errors above (a missing role or extension is common; "
            '`restore_owner = "no-owner"` skips ownership).'
        ),
    )


def restore_stream(
    url: str,
    database: str,
    chunks: Iterable[bytes],
    *,
    owner: str = "no-owner",
    on_progress: Callable[[int], None] | None = None,
    maintenance_work_mem: str = DEFAULT_MAINTENANCE_WORK_MEM,
    clean: bool = True,
) -> RestoreResult:
    """Pipe the plain dump into ``pg_restore --single-transaction``: all or nothing."""
    argv, env, password = _command(url, owner, maintenance_work_mem, clean)
    argv += ["--single-transaction", "--exit-on-error"]
    mode = "streamed, single transaction"
    started = time.monotonic()
    proc = subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env
    )
    err: dict[str, bytes] = {}
    reader = threading.Thread(target=lambda: err.__setitem__("e", proc.stderr.read()))  # type: ignore[union-attr]
    reader.start()
    done = 0
    try:
        for chunk in chunks:
            proc.stdin.write(chunk)  # type: ignore[union-attr]
            done += len(chunk)
            if on_progress:
                on_progress(done)
        proc.stdin.close()  # type: ignore[union-attr]
    except BrokenPipeError:
        pass
    except BaseException:
        proc.kill()  # never let a half-fed restore commit: killing it rolls the transaction back
        proc.wait()
        reader.join()
        raise
    proc.wait()
    reader.join()
    stderr = redact(err.get("e", b"").decode("utf-8", "replace"), [password])
    if proc.returncode != 0:
        raise _failure(database, mode, proc.returncode, stderr)
    _make_durable(url, database)
    return RestoreResult(
        mode=mode,
        bytes=done,
        seconds=time.monotonic() - started,
        warnings=stderr.strip(),
        text=_("streamed, single transaction"),
    )


def restore_file(
    url: str,
    database: str,
    path: Path,
    *,
    jobs: int = 2,
    owner: str = "no-owner",
    maintenance_work_mem: str = DEFAULT_MAINTENANCE_WORK_MEM,
    clean: bool = True,
) -> RestoreResult:
    """``pg_restore -j N`` from a staged file: fastest, but not one transaction."""
    argv, env, password = _command(url, owner, maintenance_work_mem, clean)
    argv += [f"--jobs={max(1, jobs)}", str(path)]
    mode = f"staged, pg_restore -j {max(1, jobs)}"
    started = time.monotonic()
    proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, check=False)
    stderr = redact(proc.stderr.decode("utf-8", "replace"), [password])
    if proc.returncode != 0:
        raise _failure(database, mode, proc.returncode, stderr)
    _make_durable(url, database)
    return RestoreResult(
        mode=mode,
        bytes=path.stat().st_size,
        seconds=time.monotonic() - started,
        warnings=stderr.strip(),
        text=_("staged, pg_restore -j {jobs}").format(jobs=max(1, jobs)),
    )


def staging_room(staging_dir: str, size: int) -> tuple[bool, int]:
    """(fits, free bytes): a staged dump needs its size plus 10 % and 64 MB to spare."""
    Path(staging_dir).mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(staging_dir).free
    return free >= size + max(size // 10, 64 * 1024 * 1024), free


class _Prefetch:
    """Runs the chunk iterator (download, decrypt, decompress) in its own thread.

    Why: zstd, AES-GCM and the file write each spend most of their time outside the GIL,
    so producing the next pieces while the current one is written overlaps the two halves
    of the staging pass instead of adding them. The queue is bounded (a few pieces of at
    most a few MB each), so memory stays flat whatever the dump's size.
    """

    DEPTH = 4

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._q: queue.Queue[tuple[str, object]] = queue.Queue(self.DEPTH)
        self._stop = threading.Event()
        self._it = iter(chunks)
        self._thread = threading.Thread(target=self._run, name="restore-prefetch", daemon=True)
        self._thread.start()

    def _put(self, item: tuple[str, object]) -> bool:
        while not self._stop.is_set():
            try:
                self._q.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for piece in self._it:
                if not self._put(("data", piece)):
                    return
            self._put(("end", None))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the consumer's thread
            self._put(("error", exc))
        finally:
            close = getattr(self._it, "close", None)
            if close:
                close()

    def __iter__(self) -> Iterator[bytes]:
        while True:
            kind, value = self._q.get()
            if kind == "end":
                return
            if kind == "error":
                raise value  # type: ignore[misc]
            yield value  # type: ignore[misc]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


@contextmanager
def staged(
    chunks: Iterable[bytes],
    staging_dir: str,
    on_progress: Callable[[int], None] | None = None,
    prefix: str = "restore-",
) -> Iterator[Path]:
    """Write the plain dump to a private temp file; it is removed afterwards, even on failure.

    The table of contents gets its data offsets in the same pass (``pg_offsets.OffsetFinder``),
    so ``pg_restore -j`` can seek without the file being read a second time.
    """
    Path(staging_dir).mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=".dump", dir=staging_dir)
    path = Path(name)
    try:
        done = 0
        finder = OffsetFinder()
        source = _Prefetch(chunks)
        try:
            with os.fdopen(fd, "r+b") as fh:
                for chunk in source:
                    finder.feed(chunk)
                    fh.write(chunk)
                    done += len(chunk)
                    if on_progress:
                        on_progress(done)
                finder.finish(fh)
        finally:
            source.stop()
        yield path
    finally:
        path.unlink(missing_ok=True)
