"""The dump pipeline: ``pg_dump -Fc -Z0`` → zstd → chunked AES-256-GCM → multipart upload.

Why this shape: pg_dump's own gzip is single-threaded and the slowest stage of the old
recipe; with ``-Z0`` pg_dump only reads, one thread reads its pipe and compresses with zstd
(which releases the GIL), encryption and the upload run in others, and bounded queues
between the stages keep them overlapped while capping memory at a few MB plus a few upload
parts — whatever the size of the database. Nothing is staged on disk.

Why the manifest is written last: until it exists there is no backup. Every failure path
(pg_dump exits non-zero or is killed, the upload gives up, ``cancel`` is set, Ctrl-C) ends
before it, with the multipart upload aborted by the storage layer. A failure after the object
was stored (the size check, the manifest write) deletes it again: without a manifest it is
never listed, but it would still be billed. What could not be deleted is named in the hint,
and ``engine.prune`` sweeps such leftovers once they are a day old.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import zstandard

from adapters import pg_contents, postgres
from adapters.crypto import DEFAULT_CHUNK_SIZE, Encryptor, binding, load_keyring
from adapters.storage import Storage, open_storage
from adapters.storage.base import UploadStarted
from core.config import BACKUP_KINDS, PRE_EVENT_KINDS, Config
from core.errors import BackupbotError, ConfigError, DumpError, NotFoundError, UsageError
from core.i18n import _, ngettext
from core.redact import describe_url, redact
from engine import globals_dump
from engine.manifest import Manifest, backup_id, manifest_key_for, new_nonce, object_key

log = logging.getLogger(__name__)

# zstd level 1's "fast" strategy with a 4 MB window and a 128 K-entry hash table. Measured on
# the benchmark dumps (pgbench + signed-invoice XML, 80 MB to 1.24 GB): 0.83-0.84x the bytes of
# pg_dump's gzip, smaller than zstd -3 (0.84x), at 35-45 % less CPU than zstd -3 (1.1 s vs 1.7 s
# per 1.24 GB). Plain level 1 (512 KB window, 8 K-entry table) misses the repeats between rows
# a few MB apart and stores 0.86x; on 2 cores every CPU second saved speeds pg_dump up.
ZSTD_LEVEL = 1
ZSTD_WINDOW_LOG = 22
ZSTD_HASH_LOG = 17
READ_BLOCK = 1024 * 1024
QUEUE_DEPTH = 8  # compressed pieces (at most one read block each) between the stages: bounds memory
PROGRESS_EVERY = 0.5
_EOF = object()


@dataclass(frozen=True)
class Progress:
    bytes_in: int  # read from pg_dump
    bytes_out: int  # encrypted bytes handed to storage
    elapsed: float
    rate: float  # bytes_in per second


class _Stopped(Exception):
    """A stage noticed the pipeline is shutting down."""


def _put(q: queue.Queue[Any], item: Any, stop: threading.Event) -> None:
    while True:
        try:
            q.put(item, timeout=0.2)
            return
        except queue.Full:
            if stop.is_set():
                raise _Stopped from None


def _stage(
    target: Callable[[], None], out: queue.Queue[Any], stop: threading.Event, name: str
) -> threading.Thread:
    """Run one stage in a thread; its exception travels down the queue to the consumer."""

    def run() -> None:
        try:
            target()
        except _Stopped:
            return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which re-raises
            try:
                _put(out, exc, stop)
            except _Stopped:
                return

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread


def resolve_git_sha(kind: str, git_sha: str | None) -> str | None:
    if git_sha:
        return git_sha
    if kind in PRE_EVENT_KINDS and kind != "pre-restore":
        return os.environ.get("GIT_SHA") or os.environ.get("SOURCE_VERSION") or None
    return None


def _discard(storage: Storage, keys: list[str]) -> list[str]:
    """Delete the objects of a dump that will not be recorded; returns the keys still there.

    A deploy pipeline's credential may not delete (docs/iam/pipeline.json): the object then
    stays without a manifest, which is never listed as a backup, and the error said is the
    dump's own, not the refused clean-up.
    """
    left = []
    for key in keys:
        try:
            storage.delete(key)
        except BackupbotError as err:
            log.warning(
                "could not delete %s of a failed dump (it is not a backup without its manifest): %s",
                key,
                err.message,
            )
            left.append(key)
        except Exception as exc:  # noqa: BLE001 - the dump's own error is the one to raise
            log.warning(
                "could not delete %s of a failed dump: %s", key, redact(f"{type(exc).__name__}: {exc}")
            )
            left.append(key)
    return left


def _tidy_up(storage: Storage, written: list[str], uploaded: bool, exc: BaseException) -> str:
    """Delete what a failed dump had already stored; the sentence that says exactly what is left.

    ``written`` are the complete objects of this dump (the roles beside it, the dump itself
    once its upload completed); ``uploaded`` says whether the dump's object was complete, or
    only a multipart upload the storage layer aborted (``upload_left`` when it could not).
    """
    left = _discard(storage, written)
    object_left = uploaded and bool(written) and written[-1] in left  # the dump itself, not only its roles
    if uploaded:
        said = _("Nothing was recorded; the uploaded object was deleted again.")
    elif getattr(exc, "upload_left", None):
        said = _("Nothing was recorded; the partial upload could NOT be aborted (storage did not answer).")
        said += " " + str(exc.upload_left)  # type: ignore[attr-defined]
    else:
        said = _("Nothing was recorded; the partial upload was aborted.")
    if left:
        if object_left:
            said = _("Nothing was recorded, but the uploaded object could not be deleted again.")
        said += " " + ngettext(
            "{keys} is left without a manifest: it is never listed as a backup, but it takes up storage. "
            "`backupbot prune --confirm` deletes it once it is a day old (so does the retention after a "
            "nightly backup), or delete it by hand.",
            "{keys} are left without a manifest: they are never listed as a backup, but they take up storage. "
            "`backupbot prune --confirm` deletes them once they are a day old (so does the retention after a "
            "nightly backup), or delete them by hand.",
            len(left),
        ).format(keys=", ".join(left))
    return said


def _manifest_stored(storage: Storage, manifest: Manifest) -> bool | None:
    """After a failed manifest write: is exactly our manifest there (True), nothing (False), or unknown (None)?"""
    try:
        return True if storage.get_bytes(manifest.manifest_key) == manifest.to_json() else None
    except NotFoundError:
        return False
    except BackupbotError:
        return None


def _no_key(cfg: Config, err: ConfigError) -> ConfigError:
    """The missing-key error, with a hint that never suggests a new key where backups already exist.

    A fresh key would make the next dumps fine and every older backup undecryptable from this
    shell; with backups in the store, the way out is the key they were made with.
    """
    if os.environ.get(cfg.encryption.key_env, ""):
        return err  # set, but not a valid key: the message already says which variable
    from engine.catalog import list_backups

    try:
        newest = next(iter(list_backups(cfg)), None)
    except BackupbotError:
        err.hint = _(
            "If backups exist already, export the key they were made with as {env} "
            "(`backupbot key-id` shows a key's id); only for the very first backup create one with `backupbot keygen`."
        ).format(env=cfg.encryption.key_env)
        return err
    if newest is None:
        return err
    err.hint = _(
        "Backups already exist (newest {id}, encrypted with key id {key_id}): export "
        "that key as {env} — a new key could not decrypt them. `backupbot key-id` shows the "
        "id of the key you export."
    ).format(id=newest.id, key_id=newest.key_id or _("unknown"), env=cfg.encryption.key_env)
    return err


def _free_id(storage: Storage, database: str, kind: str, start: datetime) -> tuple[str, str]:
    """A backup id (and object key) no stored backup has; the nonce makes a clash unlikely already.

    The look is cheap insurance; what guarantees that nothing is overwritten is the
    create-only write of the object and the manifest (``create_only=True``).
    """
    for _attempt in range(5):
        bid = backup_id(database, start, kind, new_nonce())
        key = object_key(database, start, bid)
        if not storage.exists(manifest_key_for(key)) and not storage.exists(key):
            return bid, key
    raise DumpError(
        _("could not find a free backup id for database '{db}'").format(db=database),
        detail=_("Five random ids for {at} UTC were all taken in {storage}.").format(
            at=f"{start:%Y-%m-%d %H:%M:%S}", storage=storage.describe()
        ),
        hint=_(
            "Something is writing backups at a very high rate; check the bucket, then run the dump again."
        ),
    )


def _export_snapshot(url: str, mode: str, database: str) -> pg_contents.SourceSnapshot:
    """The transaction whose snapshot pg_dump dumps and the manifest's rows are counted in."""
    import psycopg

    try:
        return pg_contents.SourceSnapshot(url, mode)
    except psycopg.Error as exc:
        raise DumpError(
            _("database '{db}' refused to export a snapshot for the dump").format(db=database),
            detail=redact(str(exc).strip(), [url]),
            hint=_(
                "The dump role must be able to run pg_export_snapshot() (a standby needs PostgreSQL 10+). "
                "Nothing was recorded."
            ),
        ) from None


def run_dump(
    cfg: Config,
    database: str,
    kind: str = "manual",
    reason: str = "",
    requested_by: str = "cli",
    git_sha: str | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    cancel: threading.Event | None = None,
    now: datetime | None = None,
    url: str | None = None,
    on_upload: UploadStarted | None = None,
) -> Manifest:
    """Take one encrypted backup of ``database``; returns its manifest only once it is stored.

    ``url`` replaces the dump URL: a restore's safety dump reads through the restore URL,
    because that is the database about to be overwritten (the dump URL may be a replica).
    ``on_upload(key, upload_id)`` is called once the upload exists, so a job can record which
    leftover is its own: recovery after a crash then aborts that upload and no other.
    """
    if kind not in BACKUP_KINDS:
        raise UsageError(
            _("unknown backup kind '{kind}'").format(kind=kind),
            hint=_("Use one of: {kinds}.").format(kinds=", ".join(BACKUP_KINDS)),
        )
    db = cfg.database(database)
    url = url or db.dump_url()
    # Preflight, cheapest first; nothing is written until all of it passed.
    try:
        ring = load_keyring(cfg.encryption)
    except ConfigError as err:
        raise _no_key(cfg, err) from None
    info = postgres.server_info(url, database)
    tool = postgres.find_pg_dump(info.major, database, info.version)

    started = time.monotonic()
    main_cpu = time.thread_time()
    counters = {"in": 0, "out": 0}
    stop = threading.Event()
    cpu: dict[str, float] = {}  # seconds of CPU per stage, logged to show where a dump's time goes
    zst_q: queue.Queue[Any] = queue.Queue(QUEUE_DEPTH)

    def read_and_compress() -> None:
        # One thread reads and compresses: each block is compressed while it is still in
        # this core's cache, straight from a reused buffer (no 1 MB allocation per read and
        # no hand-over to another thread). pg_dump keeps writing into the 1 MB pipe
        # meanwhile, so reading and compressing still overlap with the dump itself.
        params = zstandard.ZstdCompressionParameters.from_level(
            ZSTD_LEVEL, window_log=ZSTD_WINDOW_LOG, hash_log=ZSTD_HASH_LOG, write_checksum=1
        )
        cobj = zstandard.ZstdCompressor(compression_params=params).compressobj()
        buf = bytearray(READ_BLOCK)
        view = memoryview(buf)
        stdout = proc.stdout
        while not stop.is_set():
            n = stdout.readinto(view)  # fills the block unless the dump ended
            if not n:
                break
            counters["in"] += n
            out = cobj.compress(view[:n])
            if out:
                _put(zst_q, out, stop)
        _put(zst_q, cobj.flush(), stop)
        _put(zst_q, _EOF, stop)
        cpu["read+zstd"] = time.thread_time()

    def encrypted() -> Iterator[bytes]:
        last_report = 0.0
        while True:
            if cancel is not None and cancel.is_set():
                raise DumpError(
                    _("backup of database '{db}' was cancelled").format(db=database),
                    detail=_("pg_dump was stopped."),
                    hint=_("Start it again when ready."),
                )
            try:
                item = zst_q.get(timeout=0.2)
            except queue.Empty:
                item = None  # a stalled pg_dump still gets progress reports and can be cancelled
            if isinstance(item, BaseException):
                raise item
            if item is _EOF:
                break
            if item is not None:
                for piece in encryptor.update(item):
                    counters["out"] += len(piece)
                    yield piece
            now_t = time.monotonic()
            if on_progress is not None and now_t - last_report >= PROGRESS_EVERY:
                last_report = now_t
                elapsed = now_t - started
                on_progress(
                    Progress(counters["in"], counters["out"], elapsed, counters["in"] / max(elapsed, 1e-6))
                )
        code = proc.wait()
        if code != 0:
            if code < 0:
                message = _("pg_dump of database '{db}' was killed by signal {n}").format(
                    db=database, n=-code
                )
            else:
                message = _("pg_dump of database '{db}' exited with status {n}").format(db=database, n=code)
            raise DumpError(
                message,
                detail=proc.stderr_text() or _("pg_dump printed nothing on stderr."),
                hint=_("Fix the cause above and run the dump again."),
            )
        for piece in encryptor.finalize():
            counters["out"] += len(piece)
            yield piece

    # pg_dump starts now and reads the catalog while the bucket is checked (importing boto3 and
    # two round trips take longer than pg_dump's own start): it only reads, and its output
    # waits in the pipe and the first queue until the upload may begin. A failed bucket check
    # kills it before anything was written.
    snap = _export_snapshot(url, db.row_counts, database)
    try:
        proc = postgres.DumpProcess(tool, url, snapshot=snap.snapshot_id)
    except BaseException:
        snap.close()
        raise
    snap.start_counting()
    threads = [_stage(read_and_compress, zst_q, stop, "dump-zstd")]
    try:
        storage = open_storage(cfg.storage)
        storage.check_writable()
        created_at = (now or datetime.now(UTC)).astimezone(UTC)
        bid, key = _free_id(storage, database, kind, created_at)
    except BaseException:
        stop.set()
        proc.kill()
        snap.close()
        for thread in threads:
            thread.join(timeout=10)
        raise
    encryptor = Encryptor(ring, DEFAULT_CHUNK_SIZE, bound_to=binding(bid, database, key))
    roles: dict[str, str] = {}
    written: list[str] = []  # complete objects of this dump, deleted again if it is not recorded
    uploaded = False  # the dump's own object is complete (not just a multipart upload)
    manifest_sent = False
    log.info("dump %s started: pg_dump pid %s, object %s", bid, proc.pid, key)

    try:
        if db.globals:
            sql, roles["globals_note"] = globals_dump.read_globals(url, tool.path)
            if sql is not None:
                roles["globals_key"] = globals_dump.store(storage, ring, key, sql)
                written.append(roles["globals_key"])
        result = storage.put_stream(key, encrypted(), create_only=True, on_started=on_upload)
        written.append(key)
        uploaded = True
        head = storage.head(key)
        if int(head["size"]) != result.size:
            raise DumpError(
                _("backup of database '{db}' was stored with the wrong size").format(db=database),
                detail=_("sent {sent} bytes, storage reports {got}.").format(
                    sent=result.size, got=head["size"]
                ),
                hint=_("Run the dump again."),
            )
        manifest = Manifest(
            id=bid,
            database=database,
            kind=kind,
            created_at=created_at,
            key=key,
            requested_by=requested_by,
            reason=reason,
            git_sha=resolve_git_sha(kind, git_sha),
            server_version=info.version,
            pg_dump_version=tool.version,
            source=describe_url(url),
            dump_bytes=counters["in"],
            stored_bytes=result.size,
            sha256=result.sha256,
            compression={
                "algorithm": "zstd",
                "level": ZSTD_LEVEL,
                "window_log": ZSTD_WINDOW_LOG,
                "hash_log": ZSTD_HASH_LOG,
            },
            encryption=encryptor.encryption_info(),
            table_count=info.table_count,
            migration_head=info.migration_head,
            duration_seconds=round(time.monotonic() - started, 3),
            storage=storage.describe(),
            contents=snap.result().to_dict(),
            **roles,
        )
        manifest_sent = True  # from here an interruption may have stored the manifest
        try:
            storage.put_bytes(manifest.manifest_key, manifest.to_json(), "application/json", create_only=True)
        except BackupbotError as err:
            stored = _manifest_stored(storage, manifest)
            if stored is None:
                # The write may have happened (an answer lost on the way back): deleting the object
                # could leave a listed backup without its data. Keep it and say so.
                written.clear()
                raise DumpError(
                    _("backup of database '{db}' may not be recorded: writing its manifest failed").format(
                        db=database
                    ),
                    detail=err.message + (" " + err.detail if err.detail else ""),
                    hint=_(
                        "The storage did not say whether the manifest was stored, so the object {key} was kept. "
                        "Run `backupbot list`: if the backup is listed, it is complete; if not, "
                        "`backupbot prune --confirm` deletes the object once it is a day old. Then run the "
                        "dump again."
                    ).format(key=key),
                ) from None
            if not stored:
                raise DumpError(  # the storage's message names the manifest's key and what refused it
                    _("backup of database '{db}' failed: {message}").format(db=database, message=err.message),
                    detail=err.detail,
                    hint=(err.hint + " " if err.hint else "")
                    + _("Run the dump again once the cause is fixed."),
                ) from None
            log.warning(
                "dump %s: the manifest write reported %s, but the manifest is stored", bid, err.message
            )
    except DumpError as err:
        if written or not uploaded:
            err.hint = _tidy_up(storage, written, uploaded, err) + (" " + err.hint if err.hint else "")
        raise
    except BackupbotError as err:
        raise DumpError(
            _("backup of database '{db}' failed: {message}").format(db=database, message=err.message),
            detail=err.detail,
            hint=(err.hint + " " if err.hint else "") + _tidy_up(storage, written, uploaded, err),
        ) from None
    except Exception as exc:
        log.exception("dump %s failed unexpectedly", bid)
        said = _tidy_up(storage, written, uploaded, exc)
        raise DumpError(
            _("backup of database '{db}' failed unexpectedly").format(db=database),
            detail=redact(f"{type(exc).__name__}: {exc}", [url]),
            hint=said + " " + _("Run it again; if it repeats, report the log line above."),
        ) from None
    except BaseException:  # Ctrl-C, a stopping worker: nothing half-made stays behind either …
        if not manifest_sent:  # … unless its manifest may be stored: then prune sweeps a true orphan
            _discard(storage, written)
        raise
    finally:
        stop.set()
        proc.kill()
        snap.close()
        for thread in threads:
            thread.join(timeout=10)
    if on_progress is not None:
        elapsed = time.monotonic() - started
        on_progress(Progress(counters["in"], counters["out"], elapsed, counters["in"] / max(elapsed, 1e-6)))
    log.info(
        "dump %s stored: %s bytes in %.1f s (cpu: read+zstd %.1f s, encrypt+upload %.1f s)",
        bid,
        manifest.stored_bytes,
        manifest.duration_seconds,
        cpu.get("read+zstd", 0.0),
        time.thread_time() - main_cpu,
    )
    return manifest
