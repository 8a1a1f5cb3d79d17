"""One application file back out of the backup, as it was at a date, checked on the way.

Every chunk is authenticated before its plaintext is released, and at the end the stored
object's sha256 and the plain content's sha256 must equal the manifest's; a caller treats
the bytes as good only once the iterator finished without raising (``restore_file``
writes to a temporary name and renames only then).
"""

from __future__ import annotations

import difflib
import hashlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time
from pathlib import Path

import zstandard

from adapters.crypto import Decryptor, KeyRing, load_keyring
from adapters.storage import Storage, open_storage
from core.config import Config
from core.errors import IntegrityError, NotFoundError, UsageError
from core.i18n import _, ngettext
from engine.files_manifest import FileEntry, FilesRun, list_run_ids, load_run, run_at, stamp_of


def parse_at(text: str | None) -> datetime | None:
    """``2026-12-01`` means the end of that day (UTC); a time (``2026-12-01T14:00``, ``…Z``) that instant."""
    if not text:
        return None
    raw = text.strip()
    try:
        if len(raw) == 10:
            day = datetime.strptime(raw, "%Y-%m-%d").replace(tzinfo=UTC)
            return datetime.combine(day.date(), time.max, UTC)
        at = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            _("--at {value} is not a date").format(value=repr(raw)),
            hint=_(
                "Write a date (2026-12-01: as it was at the end of that day, UTC) or a time (2026-12-01T14:00Z)."
            ),
        ) from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _fail(entry: FileEntry, message: str, detail: str) -> IntegrityError:
    return IntegrityError(
        f"{entry.path}: {message}",
        detail=detail,
        hint=_(
            "This copy cannot be trusted; try an earlier date with --at (`backupbot files list --at DATE`)."
        ),
    )


def iter_file_plain(storage: Storage, ring: KeyRing, entry: FileEntry) -> Iterator[bytes]:
    """The file's plain bytes; raises IntegrityError on any chunk, size or sha256 mismatch."""
    what = _("the copy of {path}").format(path=entry.path)
    if entry.key_id:
        ring.get(entry.key_id, what)
    dec = Decryptor(ring, what, expected_key_id=entry.key_id or None)
    dobj = zstandard.ZstdDecompressor().decompressobj()
    stored_sha, plain_sha = hashlib.sha256(), hashlib.sha256()
    stored = plain = 0

    def unzstd(piece: bytes) -> bytes:
        try:
            return dobj.decompress(piece)
        except zstandard.ZstdError as exc:
            raise _fail(entry, _("the decrypted copy is not valid zstd"), str(exc)) from None

    def pieces() -> Iterator[bytes]:
        nonlocal stored
        for block in storage.get_stream(entry.stored_key):
            stored_sha.update(block)
            stored += len(block)
            yield from dec.update(block)
        yield from dec.finalize()

    for piece in pieces():
        out = unzstd(piece)
        if out:
            plain_sha.update(out)
            plain += len(out)
            yield out
    if not dobj.eof:
        raise _fail(entry, _("the compressed copy ends early"), _("zstd did not reach the end of its frame."))
    if stored != entry.stored_bytes or stored_sha.hexdigest() != entry.stored_sha256:
        raise _fail(
            entry,
            _("the stored copy does not match the manifest"),
            _(
                "read {got} bytes with sha256 {got_sha}; the manifest says {want} bytes, sha256 {want_sha} ({key})."
            ).format(
                got=stored,
                got_sha=stored_sha.hexdigest(),
                want=entry.stored_bytes,
                want_sha=entry.stored_sha256,
                key=entry.stored_key,
            ),
        )
    if plain != entry.size or plain_sha.hexdigest() != entry.sha256:
        raise _fail(
            entry,
            _("the content no longer matches its recorded sha256"),
            _("got {got} bytes with sha256 {got_sha}; recorded {want} bytes, sha256 {want_sha}.").format(
                got=plain, got_sha=plain_sha.hexdigest(), want=entry.size, want_sha=entry.sha256
            ),
        )


def run_for(storage: Storage, at: datetime | None) -> FilesRun:
    run = run_at(storage, at)
    if run is None:
        ids = list_run_ids(storage)
        raise NotFoundError(
            _("no backup of the application's files at {at} UTC").format(at=f"{at:%Y-%m-%d %H:%M}")
            if at
            else _("no backup of the application's files"),
            detail=_("The first files sync was {at} UTC.").format(at=f"{stamp_of(ids[0]):%Y-%m-%d %H:%M}")
            if ids
            else _("No files sync has run yet."),
            hint=_("Run `backupbot files sync` (or wait for the nightly one), or pick a later --at."),
        )
    return run


def find_entry(storage: Storage, path: str, at: datetime | None) -> tuple[FilesRun, FileEntry]:
    run = run_for(storage, at)
    entry = run.entry(path)
    if entry is not None:
        return run, entry
    close = difflib.get_close_matches(path, [f.path for f in run.files], n=1)
    later = [rid for rid in list_run_ids(storage) if rid > run.id]
    seen_later = next((rid for rid in later if load_run(storage, rid).entry(path)), None)
    hint = _("Did you mean {path}?").format(path=close[0]) + " " if close else ""
    if seen_later:
        hint += (
            _("It is in the backup from {at} UTC on; use a later --at.").format(
                at=f"{stamp_of(seen_later):%Y-%m-%d %H:%M}"
            )
            + " "
        )
    raise NotFoundError(
        _("{path} is not in the files backup {id}").format(path=path, id=run.id),
        detail=ngettext(
            "That backup ({at} UTC) lists {n} file.",
            "That backup ({at} UTC) lists {n} files.",
            len(run.files),
        ).format(at=f"{run.created_at:%Y-%m-%d %H:%M}", n=len(run.files)),
        hint=hint + _("`backupbot files list --at DATE` shows what a backup holds."),
    )


@dataclass(frozen=True)
class Restored:
    path: str
    output: str
    size: int
    sha256: str
    run_id: str
    copied_in: str


def restore_file(
    cfg: Config, path: str, output: str, at: datetime | None = None, force: bool = False
) -> Restored:
    """Write ``path`` as it was at ``at`` to ``output`` (``-``: stdout); only a verified file is left behind."""
    storage = open_storage(cfg.storage)
    ring = load_keyring(cfg.encryption, require_current=False)
    run, entry = find_entry(storage, path.lstrip("/"), at)
    result = Restored(entry.path, output, entry.size, entry.sha256, run.id, entry.copied_in)
    if output == "-":
        for block in iter_file_plain(storage, ring, entry):
            sys.stdout.buffer.write(block)
        sys.stdout.buffer.flush()
        return result
    final = Path(output)
    if final.exists() and not force:
        raise UsageError(
            _("{output} already exists").format(output=output),
            hint=_("Choose another -o FILE, or add --force to replace it."),
        )
    tmp = final.with_name(f".{final.name}.partial-{os.getpid()}")
    try:
        # 0600: certificates hold private keys
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as fh:
            for block in iter_file_plain(storage, ring, entry):
                fh.write(block)
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    return result


def list_files(cfg: Config, at: datetime | None = None) -> FilesRun:
    return run_for(open_storage(cfg.storage), at)
