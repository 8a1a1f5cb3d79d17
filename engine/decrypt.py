"""From a stored backup back to the plain ``pg_dump -Fc`` stream, verified on the way.

Why the checks are layered: every chunk is authenticated before its plaintext is released
(so pg_restore never sees altered bytes), and at the end the sha256 and sizes of what was
read must equal the manifest's — which also catches a whole object swapped for another
backup made with the same key. A caller must treat the stream as valid only once the
iterator finished without raising.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import zstandard

from adapters.crypto import VERSIONS, Decryptor, binding, load_keyring
from adapters.storage import Storage, open_storage
from core.config import Config
from core.errors import IntegrityError
from core.i18n import _
from engine.manifest import Manifest


def _fail(manifest: Manifest, message: str, detail: str) -> IntegrityError:
    return IntegrityError(
        _("backup {id}: {problem}").format(id=manifest.id, problem=message),
        detail=detail,
        hint=_("Do not restore from this output; pick another backup with `backupbot list`."),
    )


def iter_plain(cfg: Config, manifest: Manifest, storage: Storage | None = None) -> Iterator[bytes]:
    """The plain custom-format dump, block by block; raises IntegrityError on any mismatch."""
    storage = storage or open_storage(cfg.storage)
    ring = load_keyring(cfg.encryption, require_current=False)
    what = _("backup {id}").format(id=manifest.id)
    if manifest.key_id:
        ring.get(manifest.key_id, what)  # a clear "which key is needed" before reading anything
    algorithm = str(manifest.encryption.get("algorithm", ""))
    version = VERSIONS.get(algorithm)
    if algorithm and version is None:
        raise _fail(
            manifest,
            _("unknown encryption format"),
            _("The manifest says {algorithm}.").format(algorithm=repr(algorithm)),
        )
    dec = Decryptor(
        ring,
        what,
        expected_key_id=manifest.key_id or None,
        bound_to=binding(manifest.id, manifest.database, manifest.key),
        expected_version=version,
    )
    dobj = zstandard.ZstdDecompressor().decompressobj()
    digest = hashlib.sha256()
    stored = 0
    plain = 0

    def unzstd(block: bytes) -> bytes:
        try:
            return dobj.decompress(block)
        except zstandard.ZstdError as exc:
            raise _fail(manifest, _("the decrypted data is not valid zstd"), str(exc)) from None

    for block in storage.get_stream(manifest.key):
        digest.update(block)
        stored += len(block)
        for piece in dec.update(block):
            out = unzstd(piece)
            if out:
                plain += len(out)
                yield out
    for piece in dec.finalize():
        out = unzstd(piece)
        if out:
            plain += len(out)
            yield out
    if not dobj.eof:
        raise _fail(
            manifest, _("the compressed stream ends early"), _("zstd did not reach the end of its frame.")
        )
    if stored != manifest.stored_bytes or digest.hexdigest() != manifest.sha256:
        raise _fail(
            manifest,
            _("the stored object does not match its manifest"),
            _(
                "read {got} bytes with sha256 {got_sha}; the manifest says {want} bytes, sha256 {want_sha}."
            ).format(
                got=stored, got_sha=digest.hexdigest(), want=manifest.stored_bytes, want_sha=manifest.sha256
            ),
        )
    if manifest.dump_bytes and plain != manifest.dump_bytes:
        raise _fail(
            manifest,
            _("the decrypted dump has the wrong size"),
            _("got {got} bytes, the manifest says {want}.").format(got=plain, want=manifest.dump_bytes),
        )
