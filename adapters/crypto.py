"""Client-side encryption: a key ring from the environment and chunked AES-256-GCM streams.

Why chunked: a dump is hundreds of MB and must stream, but one GCM tag over the whole
object would only be checked at the very end, after plaintext was already handed to
pg_restore. Fixed-size chunks are each authenticated before a byte of them is released.

Why the nonce and additional data bind the chunk index and a "last chunk" flag: GCM on its
own would accept chunks that were reordered, dropped from the end, or appended from
another object encrypted with the same key. With the index in the nonce and the flag in the
AAD, each of those becomes an authentication failure at a named chunk.

Why the backup's identity is in the additional data too (format v2): a chunk stream that
authenticates on its own could be copied to another backup's key together with an edited
manifest. Binding the backup id, database and object key into every chunk's AAD makes such
a copy fail at chunk 0. Objects written before (v1 header) carry no binding and stay readable.

Why a per-object data key: the master key (from the environment) only ever encrypts 32
random bytes per backup, so nonces never repeat across objects and rotating the master
key never requires re-encrypting old dumps — the old key just stays in ``old_key_envs``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.config import EncryptionConfig
from core.errors import ConfigError, IntegrityError
from core.i18n import _

ALGORITHM_V1 = "AES-256-GCM-chunked-v1"
ALGORITHM = "AES-256-GCM-chunked-v2"  # v2: chunks also authenticate the backup's identity
MAGIC = b"BBKUPENC"
VERSION = 2
VERSIONS = {ALGORITHM_V1: 1, ALGORITHM: 2}
_BINDING_LABEL = b"backupbot/binding/v2\x00"
DEFAULT_CHUNK_SIZE = 1024 * 1024
TAG_SIZE = 16
_KEY_ID_LABEL = b"backupbot/key-id/v1\x00"
_WRAP_AAD = b"backupbot/data-key/v1\x00"
_HEADER = struct.Struct(">8sBI8sB")  # magic, version, chunk size, key id (raw 8 bytes), wrapped key length
_WRAPPED_LEN = 12 + 32 + TAG_SIZE


def key_id(key: bytes) -> str:
    """A short public fingerprint: tells which key a backup needs without revealing it."""
    return hashlib.sha256(_KEY_ID_LABEL + key).hexdigest()[:16]


@dataclass(frozen=True)
class KeyRing:
    """The current key (encrypts new backups) plus retired ones (still decrypt old backups)."""

    current_id: str | None
    keys: dict[str, bytes]
    sources: dict[str, str]  # key id -> env var it came from, for messages

    def current(self) -> tuple[str, bytes]:
        if self.current_id is None:
            raise ConfigError(_("no encryption key is loaded"), hint=_("Run `backupbot keygen`."))
        return self.current_id, self.keys[self.current_id]

    def get(self, wanted_id: str, what: str) -> bytes:
        if wanted_id in self.keys:
            return self.keys[wanted_id]
        loaded = ", ".join(
            _("{key_id} (from {env})").format(key_id=kid, env=src) for kid, src in self.sources.items()
        )
        raise IntegrityError(
            _("{what} was encrypted with key id {key_id}, which is not loaded").format(
                what=what, key_id=wanted_id
            ),
            detail=_("Keys loaded: {keys}.").format(keys=loaded) if loaded else _("Keys loaded: none."),
            hint=_(
                "Export the key that has that id and list its environment variable in "
                "[encryption] old_key_envs (or key_env)."
            ),
        )


def _decode_key(env_name: str, value: str) -> bytes:
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise ConfigError(
            _("the encryption key in {env} is not valid").format(env=env_name),
            detail=_("{env} must hold base64 of exactly 32 random bytes (44 characters).").format(
                env=env_name
            ),
            hint=_(
                "Generate one with `backupbot keygen` and keep it somewhere safe: without it backups "
                "cannot be decrypted."
            ),
        )
    return raw


def load_keyring(enc: EncryptionConfig, require_current: bool = True) -> KeyRing:
    """Read keys from the environment; a missing current key is fatal only when encrypting."""
    keys: dict[str, bytes] = {}
    sources: dict[str, str] = {}
    current_id: str | None = None
    value = os.environ.get(enc.key_env, "")
    if value:
        raw = _decode_key(enc.key_env, value)
        current_id = key_id(raw)
        keys[current_id] = raw
        sources[current_id] = enc.key_env
    elif require_current:
        raise ConfigError(
            _("the encryption key is not set: {env} is empty").format(env=enc.key_env),
            detail=_("[encryption] key_env names {env}; backups are encrypted with it before upload.").format(
                env=enc.key_env
            ),
            hint=_("Run `backupbot keygen`, store the key safely and export {env}=<key>.").format(
                env=enc.key_env
            ),
        )
    for env_name in enc.old_key_envs:
        old = os.environ.get(env_name, "")
        if not old:
            continue
        raw = _decode_key(env_name, old)
        kid = key_id(raw)
        keys.setdefault(kid, raw)
        sources.setdefault(kid, env_name)
    if not keys and not require_current:
        raise ConfigError(
            _("no encryption key is set"),
            detail=_("Neither {env} nor any of old_key_envs ({old}) is set.").format(
                env=enc.key_env, old=", ".join(enc.old_key_envs)
            )
            if enc.old_key_envs
            else _("Neither {env} nor any of old_key_envs (none) is set.").format(env=enc.key_env),
            hint=_("Export {env} with the key the backups were made with.").format(env=enc.key_env),
        )
    return KeyRing(current_id, keys, sources)


def wrap_data_key(master: bytes, master_id: str, data_key: bytes) -> bytes:
    nonce = os.urandom(12)
    return nonce + AESGCM(master).encrypt(nonce, data_key, _WRAP_AAD + master_id.encode())


def unwrap_data_key(master: bytes, master_id: str, wrapped: bytes, what: str) -> bytes:
    try:
        return AESGCM(master).decrypt(wrapped[:12], wrapped[12:], _WRAP_AAD + master_id.encode())
    except InvalidTag:
        raise IntegrityError(
            _("{what}: the wrapped data key does not open with key {key_id}").format(
                what=what, key_id=master_id
            ),
            detail=_("The object header or manifest was altered, or a different key has the same id."),
            hint=_("Restore from another backup; this one cannot be trusted."),
        ) from None


def _nonce(index: int, last: bool) -> bytes:
    return struct.pack(">QBxxx", index, 1 if last else 0)


def _aad(header: bytes, index: int, last: bool, binding: bytes = b"") -> bytes:
    return header + struct.pack(">QB", index, 1 if last else 0) + binding


def binding(backup_id: str, database: str, object_key: str) -> bytes:
    """What a v2 object is bound to: length-prefixed, so no two identities encode alike."""
    out = bytearray(_BINDING_LABEL)
    for part in (backup_id, database, object_key):
        raw = part.encode()
        out += struct.pack(">I", len(raw)) + raw
    return bytes(out)


class Encryptor:
    """Turns a byte stream into header + authenticated chunks; ``finalize`` seals the last one."""

    def __init__(self, ring: KeyRing, chunk_size: int = DEFAULT_CHUNK_SIZE, bound_to: bytes = b"") -> None:
        """With ``bound_to`` (see ``binding``) a v2 object; without, the v1 format of older backups."""
        master_id, master = ring.current()
        self._binding = bound_to
        self.version = VERSION if bound_to else 1
        data_key = os.urandom(32)
        self.key_id = master_id
        self.chunk_size = chunk_size
        self.wrapped_key = wrap_data_key(master, master_id, data_key)
        self._aead = AESGCM(data_key)
        self.header = (
            _HEADER.pack(MAGIC, self.version, chunk_size, bytes.fromhex(master_id), len(self.wrapped_key))
            + self.wrapped_key
        )
        self._buf = bytearray()
        self._index = 0
        self._started = False
        self._done = False

    def _seal(self, data: bytes, last: bool) -> bytes:
        aad = _aad(self.header, self._index, last, self._binding)
        out = self._aead.encrypt(_nonce(self._index, last), data, aad)
        self._index += 1
        return out

    def update(self, data: bytes) -> list[bytes]:
        out: list[bytes] = []
        if not self._started:
            self._started = True
            out.append(self.header)
        self._buf += data
        size = self.chunk_size
        # Keep at least one byte back: only finalize knows which chunk is last.
        if len(self._buf) > size:
            view = memoryview(self._buf)
            pos = 0
            while len(self._buf) - pos > size:
                out.append(self._seal(bytes(view[pos : pos + size]), last=False))
                pos += size
            view.release()
            del self._buf[:pos]
        return out

    def finalize(self) -> list[bytes]:
        out = [] if self._started else [self.header]
        self._started = True
        self._done = True
        out.append(self._seal(bytes(self._buf), last=True))
        self._buf = bytearray()
        return out

    def encryption_info(self) -> dict[str, object]:
        return {
            "algorithm": ALGORITHM if self.version == 2 else ALGORITHM_V1,
            "key_id": self.key_id,
            "wrapped_data_key": base64.b64encode(self.wrapped_key).decode(),
            "chunk_size": self.chunk_size,
        }


class Decryptor:
    """Checks each chunk before releasing it; reorder, truncation, change or appended data fail."""

    def __init__(
        self,
        ring: KeyRing,
        what: str,
        expected_key_id: str | None = None,
        bound_to: bytes = b"",
        expected_version: int | None = None,
    ) -> None:
        """``expected_version`` comes from the manifest, so a v2 backup never accepts a v1 object."""
        self._binding = bound_to
        self.expected_version = expected_version
        self._version = 0
        self.ring = ring
        self.what = what
        self.expected_key_id = expected_key_id
        self._buf = bytearray()
        self._header: bytes | None = None
        self._aead: AESGCM | None = None
        self._chunk_size = 0
        self._index = 0
        self._done = False

    @property
    def header_opened(self) -> bool:
        """True once the header was read and its data key unwrapped with a loaded key.

        Why public: a check that a key opens a backup (``backupbot doctor``) needs to stop
        reading after the header instead of downloading the whole object.
        """
        return self._header is not None

    def _fail(self, message: str, detail: str) -> IntegrityError:
        return IntegrityError(
            f"{self.what}: {message}",
            detail=detail,
            hint=_(
                "The stored object was altered, truncated or belongs to another backup; restore from "
                "another backup (`backupbot list`)."
            ),
        )

    def _parse_header(self) -> bool:
        if len(self._buf) < _HEADER.size:
            return False
        magic, version, chunk_size, raw_id, wrapped_len = _HEADER.unpack_from(self._buf)
        if magic != MAGIC:
            raise self._fail(
                _("not a backupbot encrypted object"), _("The object does not start with the header.")
            )
        if version not in (1, 2) or wrapped_len != _WRAPPED_LEN or not 0 < chunk_size <= 64 * 1024 * 1024:
            raise self._fail(
                _("unsupported header"),
                _("version {version}, chunk size {size}.").format(version=version, size=chunk_size),
            )
        if self.expected_version is not None and version != self.expected_version:
            raise self._fail(
                _("header format does not match the manifest"),
                _("header says format {header}, manifest says {manifest}.").format(
                    header=version, manifest=self.expected_version
                ),
            )
        total = _HEADER.size + wrapped_len
        if len(self._buf) < total:
            return False
        kid = raw_id.hex()
        if self.expected_key_id and kid != self.expected_key_id:
            raise self._fail(
                _("header key id does not match the manifest"),
                _("header says {header}, manifest says {manifest}.").format(
                    header=kid, manifest=self.expected_key_id
                ),
            )
        header = bytes(self._buf[:total])
        master = self.ring.get(kid, self.what)
        data_key = unwrap_data_key(master, kid, header[_HEADER.size :], self.what)
        self._header = header
        self._version = version
        self._aead = AESGCM(data_key)
        self._chunk_size = chunk_size
        del self._buf[:total]
        return True

    def _open(self, record: bytes, last: bool) -> bytes:
        assert self._aead is not None and self._header is not None
        bound = self._binding if self._version >= 2 else b""
        plain = self._aead.decrypt(
            _nonce(self._index, last), record, _aad(self._header, self._index, last, bound)
        )
        self._index += 1
        return plain

    def update(self, data: bytes) -> list[bytes]:
        if self._done:
            if data:
                raise self._fail(
                    _("data after the last chunk"),
                    _("{n} unexpected bytes after chunk {index}.").format(n=len(data), index=self._index - 1),
                )
            return []
        self._buf += data
        if self._header is None and not self._parse_header():
            return []
        record = self._chunk_size + TAG_SIZE
        out: list[bytes] = []
        pos = 0
        view = memoryview(self._buf)
        try:
            # A full record followed by more bytes cannot be the last chunk.
            while len(self._buf) - pos > record:
                try:
                    out.append(self._open(bytes(view[pos : pos + record]), last=False))
                except InvalidTag:
                    raise self._fail(
                        _("chunk {index} failed authentication").format(index=self._index),
                        _(
                            "Chunk {index} (bytes {start}..{end} of this read) was changed, "
                            "reordered or comes from another object."
                        ).format(index=self._index, start=pos, end=pos + record),
                    ) from None
                pos += record
        finally:
            view.release()
        del self._buf[:pos]
        return out

    def finalize(self) -> list[bytes]:
        if self._done:
            return []
        if self._header is None:
            raise self._fail(_("object is truncated"), _("It ends before the end of the encryption header."))
        rest = bytes(self._buf)
        self._buf = bytearray()
        if len(rest) < TAG_SIZE:
            raise self._fail(
                _("object is truncated"),
                _("It ends inside chunk {index} ({n} bytes, no tag).").format(index=self._index, n=len(rest)),
            )
        try:
            plain = self._open(rest, last=True)
        except InvalidTag:
            try:
                self._open(rest, last=False)
            except InvalidTag:
                raise self._fail(
                    _("chunk {index} failed authentication").format(index=self._index),
                    _("The final chunk {index} was changed, cut short or comes from another object.").format(
                        index=self._index
                    ),
                ) from None
            raise self._fail(
                _("object is truncated"),
                _("It ends after chunk {index}, which is not marked as the last chunk.").format(
                    index=self._index - 1
                ),
            ) from None
        self._done = True
        return [plain]


def decrypt_stream(blocks: Iterable[bytes], dec: Decryptor) -> Iterator[bytes]:
    for block in blocks:
        yield from dec.update(block)
    yield from dec.finalize()
