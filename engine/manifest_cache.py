"""Manifests already read, kept on this machine so a listing does not read them again.

The bucket stays the only truth. The cache only answers "what did the manifest at this
key say when its etag was X": the catalog lists the bucket first, keeps what the listing
holds, and takes a cached body only when the listing repeats its etag and size. So a
backup deleted by another process vanishes at the next listing, one added is read then,
a manifest rewritten in place (new etag) is read again, and a cache that is lost, deleted
or corrupt is rebuilt from the bucket at the cost of one GET per manifest.

One SQLite file in the state directory (``manifest-cache.sqlite3``), apart from the job
store: it holds nothing that cannot be thrown away, so deleting it is always safe, and
its bulk writes never hold the job store's write lock. Entries are scoped by the storage
they came from (``Storage.describe()``), so two buckets never share an entry. A machine
without a state directory (the CLI on a CI runner) gets no cache and reads every manifest,
as before. Any SQLite failure is logged and costs only speed: the caller falls back to
reading the bucket.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

CACHE_FILE = "manifest-cache.sqlite3"
_TOP = "\U0010ffff"  # sorts after every character a key can hold: the end of a prefix range
_SCHEMA = """
CREATE TABLE IF NOT EXISTS manifests (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    etag TEXT NOT NULL,
    size INTEGER NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (scope, key)
)
"""


@dataclass(frozen=True)
class Entry:
    """A manifest as the bucket held it when the listing showed ``etag`` and ``size``."""

    etag: str
    size: int
    body: bytes


class ManifestCache:
    """Key → (etag, size, raw manifest) per storage scope; ``path=None`` remembers nothing."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path is not None else None

    @classmethod
    def for_config(cls, cfg: Any) -> ManifestCache:
        """The cache in ``cfg.state_dir`` if that directory exists; none otherwise (it is not created)."""
        state = Path(str(getattr(cfg, "state_dir", "") or ""))
        if not str(state) or not state.is_dir():
            return cls(None)
        return cls(state / CACHE_FILE)

    @property
    def enabled(self) -> bool:
        return self.path is not None

    # ------------------------------------------------------------ connection

    def _connect(self) -> sqlite3.Connection:
        assert self.path is not None
        conn = sqlite3.connect(str(self.path), timeout=10)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(_SCHEMA)
        except BaseException:
            conn.close()
            raise
        return conn

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        try:
            conn = self._connect()
        except sqlite3.DatabaseError as exc:
            if type(exc) is not sqlite3.DatabaseError:  # locked, read-only: not a damaged file
                raise
            # "file is not a database", "disk image is malformed": it is only a cache.
            log.warning("manifest cache %s is damaged (%s); starting a new one", self.path, exc)
            self.clear()
            conn = self._connect()
        try:
            with conn:
                yield conn
        finally:
            conn.close()

    def clear(self) -> None:
        """Forget everything (delete the file); the next listing reads every manifest again."""
        if self.path is None:
            return
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)

    # ------------------------------------------------------------ reads and writes

    def entries(self, scope: str, prefix: str) -> dict[str, Entry]:
        """Everything cached under ``prefix``; empty (and logged) if the cache cannot be read."""
        if self.path is None:
            return {}
        try:
            with self._db() as conn:
                rows = conn.execute(
                    "SELECT key, etag, size, body FROM manifests WHERE scope = ? AND key >= ? AND key < ?",
                    (scope, prefix, prefix + _TOP),
                ).fetchall()
        except sqlite3.Error as exc:
            log.warning("manifest cache %s unreadable, reading the bucket instead: %s", self.path, exc)
            return {}
        return {key: Entry(etag, size, bytes(body)) for key, etag, size, body in rows}

    def sync(self, scope: str, prefix: str, listed: Iterable[str], fresh: dict[str, Entry]) -> None:
        """After a listing of ``prefix``: forget keys it no longer holds, store what was just read."""
        if self.path is None:
            return
        keep = set(listed)
        try:
            with self._db() as conn:
                cached = conn.execute(
                    "SELECT key FROM manifests WHERE scope = ? AND key >= ? AND key < ?",
                    (scope, prefix, prefix + _TOP),
                ).fetchall()
                gone = [(scope, k) for (k,) in cached if k not in keep]
                conn.executemany("DELETE FROM manifests WHERE scope = ? AND key = ?", gone)
                conn.executemany(
                    "INSERT OR REPLACE INTO manifests (scope, key, etag, size, body) VALUES (?, ?, ?, ?, ?)",
                    [(scope, k, e.etag, e.size, e.body) for k, e in fresh.items()],
                )
        except sqlite3.Error as exc:
            log.warning("manifest cache %s not updated: %s", self.path, exc)

    def forget(self, scope: str, keys: Iterable[str]) -> None:
        """Drop entries for keys just deleted, so nothing stale waits for the next listing."""
        if self.path is None:
            return
        try:
            with self._db() as conn:
                conn.executemany(
                    "DELETE FROM manifests WHERE scope = ? AND key = ?", [(scope, k) for k in keys]
                )
        except sqlite3.Error as exc:
            log.warning("manifest cache %s not updated: %s", self.path, exc)
