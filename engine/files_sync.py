"""Copy the application's new and changed files into the backup bucket, encrypted.

Why by size and ETag against the previous manifest: reading every certificate and XML
file each night to hash it would cost as much as copying it; the source's listing already
carries a size and an ETag that change when the content does. A file whose size and ETag
equal the previous record's is not read at all; any other file is copied again (an ETag
that changed without the content changing — a re-upload — costs one copy, never a miss).

Why each copy is streamed through zstd and the same chunked AES-256-GCM as dumps:
certificates hold private keys, and an XML folder can hold files of any size; the plain
bytes are hashed on the way, so the manifest's sha256 is of exactly what was read.

The source is only ever read (``adapters.storage.source`` has no write method), and a
manifest is written only when something changed: a night with nothing new adds nothing.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import zstandard

from adapters.crypto import DEFAULT_CHUNK_SIZE, Encryptor, KeyRing, load_keyring
from adapters.storage import ObjectInfo, Storage, open_storage
from adapters.storage.source import SourceBucket, SourceChanged, open_source
from core.config import Config
from core.config_types import FilesConfig
from core.errors import BackupbotError, ConfigError
from core.i18n import _
from engine.files_manifest import DATA_PREFIX, FileEntry, FilesRun, data_key, run_at, run_id, run_key

log = logging.getLogger(__name__)

ZSTD_LEVEL = 3  # XML shrinks several times; certificates are small either way


class FilesSyncError(BackupbotError):
    """Some files could not be copied; the others were, and are recorded."""


@dataclass
class SyncResult:
    run: FilesRun | None  # the manifest in force after the sync (new, or the previous one)
    wrote_manifest: bool
    copied: list[str] = field(default_factory=list)
    unchanged: int = 0
    gone: list[str] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)
    copied_bytes: int = 0
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return len(self.run.files) if self.run else 0


def files_config(cfg: Config) -> FilesConfig:
    if cfg.files is None:
        raise ConfigError(
            _("the application's files are not configured"),
            detail=_("{path} has no [files] section.").format(path=cfg.path),
            hint=_(
                'Add [files] source_url = "s3://app-bucket" and prefixes = ["certs/", "xml/"] '
                '(see the README, "The application\'s files").'
            ),
        )
    return cfg.files


def list_source(files: FilesConfig, source: SourceBucket) -> dict[str, ObjectInfo]:
    """Every object under the configured prefixes (folder markers left out), by path."""
    found: dict[str, ObjectInfo] = {}
    for prefix in files.prefixes or ("",):
        for info in source.list(prefix):
            if info.key.endswith("/") and info.size == 0:
                continue
            found[info.key] = info
    return found


def _source_error(err: BackupbotError, files: FilesConfig) -> BackupbotError:
    creds = (
        f"{files.access_key_id_env} / {files.secret_access_key_env}"
        if files.access_key_id_env
        else (
            _("profile {name}").format(name=files.profile)
            if files.profile
            else _("the same credentials as [storage]")
        )
    )
    return type(err)(
        _("cannot read the application's bucket: {error}").format(error=err.message),
        detail=err.detail,
        hint=_(
            "The files backup reads {url} with {creds} and needs s3:ListBucket and s3:GetObject there (nothing else)."
        ).format(url=files.source_url, creds=creds)
        + (" " + err.hint if err.hint else ""),
    )


def _cancelled(copied: int) -> FilesSyncError:
    return FilesSyncError(
        _("the files sync was cancelled"),
        detail=_(
            "{n} file(s) had been copied; they are not recorded, and the copy under way was aborted."
        ).format(n=copied),
        hint=_("Run it again; it copies what is still missing."),
    )


class _Cancelled(FilesSyncError):
    """Raised inside a copy so the upload is aborted; never recorded as a failed file."""


def _copy_stream(
    source: SourceBucket,
    info: ObjectInfo,
    encryptor: Encryptor,
    sha: hashlib._Hash,
    counter: list[int],
    cancel: threading.Event | None,
) -> Iterator[bytes]:
    cobj = zstandard.ZstdCompressor(level=ZSTD_LEVEL, write_checksum=True).compressobj()
    for block in source.read(info.key, info.etag):
        if cancel is not None and cancel.is_set():
            raise _Cancelled(_("the files sync was cancelled"))
        sha.update(block)
        counter[0] += len(block)
        out = cobj.compress(block)
        if out:
            yield from encryptor.update(out)
    yield from encryptor.update(cobj.flush())
    yield from encryptor.finalize()


def copy_one(
    storage: Storage,
    source: SourceBucket,
    ring: KeyRing,
    info: ObjectInfo,
    rid: str,
    cancel: threading.Event | None = None,
) -> FileEntry:
    """Stream one object from the app's bucket to ``files/data/{rid}/…``; re-read once if it changed meanwhile."""
    for attempt in (1, 2):
        encryptor = Encryptor(ring, DEFAULT_CHUNK_SIZE)
        sha = hashlib.sha256()
        counter = [0]
        key = data_key(rid, info.key)
        try:
            put = storage.put_stream(key, _copy_stream(source, info, encryptor, sha, counter, cancel))
        except SourceChanged:
            if attempt == 2:
                raise
            head = source.head(info.key)
            info = ObjectInfo(info.key, int(head["size"]), head["last_modified"], str(head.get("etag") or ""))
            continue
        return FileEntry(
            path=info.key,
            size=counter[0],
            etag=info.etag,
            last_modified=info.last_modified.astimezone(UTC).isoformat(),
            sha256=sha.hexdigest(),
            stored_key=key,
            stored_bytes=put.size,
            stored_sha256=put.sha256,
            key_id=encryptor.key_id,
            copied_in=rid,
        )
    raise AssertionError("unreachable")


def _unique_id(storage: Storage, start: datetime) -> tuple[str, datetime]:
    stamp = start.replace(microsecond=0)
    for _attempt in range(30):
        rid = run_id(stamp)
        if not storage.exists(run_key(rid)) and not any(
            True for _info in storage.list(f"{DATA_PREFIX}{rid}/")
        ):
            return rid, stamp
        stamp += timedelta(seconds=1)
    return run_id(stamp), stamp


def sync_files(
    cfg: Config,
    *,
    on_progress: Callable[[str], None] | None = None,
    cancel: threading.Event | None = None,
    now: datetime | None = None,
    storage: Storage | None = None,
    source: SourceBucket | None = None,
) -> SyncResult:
    """One sync; raises ``FilesSyncError`` (after recording what did copy) if some files failed."""
    files = files_config(cfg)
    ring = load_keyring(cfg.encryption)
    started = time.monotonic()
    storage = storage or open_storage(cfg.storage)
    try:
        source = source or open_source(files)
        listing = list_source(files, source)
    except BackupbotError as err:
        raise _source_error(err, files) from None
    previous = run_at(storage, skip_damaged=True)
    before = {e.path: e for e in previous.files} if previous else {}
    storage.check_writable()
    start = (now or datetime.now(UTC)).astimezone(UTC)
    if previous is not None and previous.created_at >= start:
        start = previous.created_at + timedelta(seconds=1)  # a clock that went back: stay the newest record
    rid, created_at = _unique_id(storage, start)

    result = SyncResult(run=previous, wrote_manifest=False)
    entries: list[FileEntry] = []
    todo = sorted(listing)
    for n, path in enumerate(todo, 1):
        info = listing[path]
        old = before.get(path)
        if old is not None and old.size == info.size and old.etag == info.etag and info.etag:
            entries.append(old)
            result.unchanged += 1
            continue
        if cancel is not None and cancel.is_set():
            raise _cancelled(len(result.copied))
        if on_progress is not None:
            on_progress(_("copying {n} of {total}: {path}").format(n=n, total=len(todo), path=path))
        try:
            entry = copy_one(storage, source, ring, info, rid, cancel)
        except _Cancelled:
            raise _cancelled(len(result.copied)) from None
        except BackupbotError as err:
            log.warning("files sync: %s not copied: %s", path, err.message)
            result.errors.append({"path": path, "message": err.message})
            if old is not None:
                entries.append(old)  # the last good copy stays the one on record
            continue
        entries.append(entry)
        result.copied.append(path)
        result.copied_bytes += entry.size
    result.gone = sorted(set(before) - set(listing))
    result.seconds = round(time.monotonic() - started, 3)

    if result.copied or result.gone or (previous is None and not result.errors):
        run = FilesRun(
            id=rid,
            created_at=created_at,
            source=source.describe(),
            prefixes=list(files.prefixes),
            files=entries,
            copied=len(result.copied),
            unchanged=result.unchanged,
            copied_bytes=result.copied_bytes,
            gone=result.gone,
            errors=result.errors,
            previous=previous.id if previous else None,
            duration_seconds=result.seconds,
        )
        storage.put_bytes(run.key, run.to_json(), "application/json")
        result.run = run
        result.wrote_manifest = True
    if result.errors:
        names = ", ".join(e["path"] for e in result.errors[:10])
        if len(result.errors) > 10:
            names = _("{names} and {n} more").format(names=names, n=len(result.errors) - 10)
        if result.wrote_manifest and result.run:
            recorded = _("{n} other file(s) were copied and recorded in {id}.").format(
                n=len(result.copied), id=result.run.id
            )
        else:
            recorded = _("{n} other file(s) were copied and recorded.").format(n=len(result.copied))
        raise FilesSyncError(
            _("{n} of {total} application file(s) could not be copied").format(
                n=len(result.errors), total=len(listing)
            ),
            detail=_("Not copied: {names}. First error: {error}.").format(
                names=names, error=result.errors[0]["message"]
            )
            + " "
            + recorded,
            hint=_(
                "Their previous copies (if any) are still restorable. Fix the cause and run "
                "`backupbot files sync` again; it copies only what is still missing."
            ),
        )
    return result
