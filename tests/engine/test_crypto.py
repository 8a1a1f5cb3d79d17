"""The chunked AEAD format refuses every way a stored object can be wrong, and says which."""

from __future__ import annotations

import base64
import os

import pytest

from adapters.crypto import TAG_SIZE, Decryptor, Encryptor, KeyRing, key_id, load_keyring
from core.config import EncryptionConfig
from core.errors import ConfigError, IntegrityError

CHUNK = 64


def ring_of(*keys: bytes) -> KeyRing:
    ids = [key_id(k) for k in keys]
    return KeyRing(ids[0] if ids else None, dict(zip(ids, keys, strict=True)), {i: "TEST_KEY" for i in ids})


def encrypt(data: bytes, ring: KeyRing, feed: int = 50) -> tuple[bytes, Encryptor]:
    enc = Encryptor(ring, CHUNK)
    out = []
    for i in range(0, len(data), feed):
        out += enc.update(data[i : i + feed])
    out += enc.finalize()
    return b"".join(out), enc


def decrypt(blob: bytes, ring: KeyRing, feed: int = 37) -> bytes:
    dec = Decryptor(ring, "backup T")
    out = []
    for i in range(0, len(blob), feed):
        out += dec.update(blob[i : i + feed])
    out += dec.finalize()
    return b"".join(out)


def split(blob: bytes, enc: Encryptor) -> tuple[bytes, list[bytes]]:
    header, rest = blob[: len(enc.header)], blob[len(enc.header) :]
    record = CHUNK + TAG_SIZE
    return header, [rest[i : i + record] for i in range(0, len(rest), record)]


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 5 * CHUNK + 7])
def test_round_trip_any_size(size: int) -> None:
    ring = ring_of(os.urandom(32))
    data = os.urandom(size)
    blob, _ = encrypt(data, ring)
    assert data not in blob or size < 8
    assert decrypt(blob, ring) == data


def test_reordered_chunks_fail_at_the_first_moved_chunk() -> None:
    ring = ring_of(os.urandom(32))
    blob, enc = encrypt(os.urandom(4 * CHUNK + 5), ring)
    header, chunks = split(blob, enc)
    chunks[1], chunks[2] = chunks[2], chunks[1]
    with pytest.raises(IntegrityError, match="chunk 1 failed authentication"):
        decrypt(header + b"".join(chunks), ring)


def test_truncation_at_a_chunk_boundary_is_named() -> None:
    ring = ring_of(os.urandom(32))
    blob, enc = encrypt(os.urandom(4 * CHUNK + 5), ring)
    header, chunks = split(blob, enc)
    with pytest.raises(IntegrityError, match="truncated") as err:
        decrypt(header + b"".join(chunks[:2]), ring)
    assert "not marked as the last chunk" in (err.value.detail or "")
    with pytest.raises(IntegrityError, match="truncated"):
        decrypt(header[:20], ring)
    with pytest.raises(IntegrityError):
        decrypt(blob[:-3], ring)


def test_flipped_byte_and_appended_data_fail() -> None:
    ring = ring_of(os.urandom(32))
    blob, enc = encrypt(os.urandom(4 * CHUNK + 5), ring)
    flipped = bytearray(blob)
    flipped[len(enc.header) + 2 * (CHUNK + TAG_SIZE) + 3] ^= 0x01
    with pytest.raises(IntegrityError, match="chunk 2 failed authentication"):
        decrypt(bytes(flipped), ring)
    with pytest.raises(IntegrityError, match="data after the last chunk|chunk 4 failed"):
        decrypt(blob + b"x" * (CHUNK + TAG_SIZE + 1), ring)
    header_flip = bytearray(blob)
    header_flip[9] ^= 0x01  # the chunk size field: every chunk's AAD changes
    with pytest.raises(IntegrityError):
        decrypt(bytes(header_flip), ring)


def test_chunks_from_another_object_fail() -> None:
    ring = ring_of(os.urandom(32))
    blob_a, enc_a = encrypt(os.urandom(3 * CHUNK), ring)
    blob_b, enc_b = encrypt(os.urandom(3 * CHUNK), ring)
    header_a, chunks_a = split(blob_a, enc_a)
    _, chunks_b = split(blob_b, enc_b)
    with pytest.raises(IntegrityError, match="chunk 1 failed authentication"):
        decrypt(header_a + chunks_a[0] + chunks_b[1] + chunks_a[2], ring)


def test_wrong_key_names_needed_and_loaded_ids() -> None:
    right, wrong = os.urandom(32), os.urandom(32)
    blob, _ = encrypt(b"secret rows", ring_of(right))
    with pytest.raises(IntegrityError) as err:
        decrypt(blob, ring_of(wrong))
    assert key_id(right) in err.value.message and key_id(wrong) in (err.value.detail or "")
    assert decrypt(blob, ring_of(wrong, right)) == b"secret rows"  # rotated: old key still opens it


def test_keyring_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    new, old = os.urandom(32), os.urandom(32)
    monkeypatch.setenv("BB_NEW", base64.b64encode(new).decode())
    monkeypatch.setenv("BB_OLD", base64.b64encode(old).decode())
    ring = load_keyring(EncryptionConfig(key_env="BB_NEW", old_key_envs=("BB_OLD", "BB_UNSET")))
    assert ring.current_id == key_id(new) and set(ring.keys) == {key_id(new), key_id(old)}
    assert len(ring.current_id) == 16 and base64.b64encode(new).decode() not in ring.current_id

    monkeypatch.setenv("BB_NEW", "not-a-key")
    with pytest.raises(ConfigError, match="BB_NEW") as err:
        load_keyring(EncryptionConfig(key_env="BB_NEW"))
    assert "backupbot keygen" in (err.value.hint or "")
    monkeypatch.delenv("BB_NEW")
    with pytest.raises(ConfigError, match="BB_NEW is empty") as err:
        load_keyring(EncryptionConfig(key_env="BB_NEW"))
    assert "backupbot keygen" in (err.value.hint or "")
    # decrypting only needs some key: the retired one is enough
    assert set(load_keyring(EncryptionConfig("BB_NEW", ("BB_OLD",)), require_current=False).keys) == {
        key_id(old)
    }
