"""A restore into a fresh database that loads the data while the dump is still being staged.

Staging first and then running ``pg_restore -j N`` adds the whole download, decryption and
write to the restore's time. Into an empty database (a swap restore) the two can overlap:
one ``pg_restore --section=pre-data --section=data`` reads the dump from a pipe and creates
the tables and COPYs their rows as the bytes arrive, while the same bytes are written to the
staging file; once both are done, ``pg_restore -j N --section=post-data`` builds the
indexes, constraints and triggers from the file in parallel (where ``-j`` helps most: on a
few cores the COPY of one big table is one backend anyway).

Only for an empty target: with ``--clean`` the sections would drop and recreate out of order.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from adapters import pg_offsets
from adapters.pg_restore import RestoreResult, _command, _failure, _make_durable, staged
from core.errors import RestoreError
from core.i18n import _
from core.redact import redact


def restore_overlapped(
    url: str,
    database: str,
    chunks: Iterable[bytes],
    staging_dir: str,
    *,
    jobs: int,
    owner: str,
    maintenance_work_mem: str,
    on_progress: Callable[[int], None] | None = None,
) -> RestoreResult:
    """Tables and rows from the stream while staging; then indexes and constraints with ``-j``."""
    argv, env, password = _command(url, owner, maintenance_work_mem, clean=False)
    started = time.monotonic()
    first = subprocess.Popen(
        [*argv, "--section=pre-data", "--section=data", "--exit-on-error"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    err: dict[str, bytes] = {}
    reader = threading.Thread(target=lambda: err.__setitem__("e", first.stderr.read()))  # type: ignore[union-attr]
    reader.start()
    fed = {"open": True}

    def tee() -> Iterator[bytes]:
        for chunk in chunks:
            if fed["open"]:
                try:
                    first.stdin.write(chunk)  # type: ignore[union-attr]
                except BrokenPipeError:  # pg_restore stopped: its exit code says why, below
                    fed["open"] = False
            yield chunk
        if fed["open"]:
            try:
                first.stdin.close()  # type: ignore[union-attr]
            except BrokenPipeError:
                pass

    try:
        with staged(tee(), staging_dir, on_progress) as path:
            code = first.wait()
            reader.join()
            stderr = redact(err.get("e", b"").decode("utf-8", "replace"), [password])
            if code != 0:
                raise _failure(database, "overlapped", code, stderr)
            data_done = time.monotonic() - started
            n = max(1, jobs) if pg_offsets.add_data_offsets(path) else 1
            second = subprocess.run(
                [*argv, "--section=post-data", f"--jobs={n}", str(path)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env=env,
                check=False,
            )
            post = redact(second.stderr.decode("utf-8", "replace"), [password])
            if second.returncode != 0:
                raise _failure(database, "overlapped", second.returncode, post)
            size = Path(path).stat().st_size
    except BaseException:
        if first.poll() is None:
            first.kill()
            first.wait()
        reader.join()
        raise
    if not size:
        raise RestoreError(_("the dump for '{db}' was empty").format(db=database))
    _make_durable(url, database)
    return RestoreResult(
        mode=f"overlapped: tables and rows while staging ({data_done:.1f} s), then pg_restore -j {n} "
        "for indexes and constraints",
        bytes=size,
        seconds=time.monotonic() - started,
        warnings=(stderr + post).strip(),
        text=_(
            "overlapped: tables and rows while staging ({seconds} s), then pg_restore -j {jobs} "
            "for indexes and constraints"
        ).format(seconds=f"{data_done:.1f}", jobs=n),
    )
