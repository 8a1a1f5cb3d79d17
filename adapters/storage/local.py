"""A local folder as storage: the embedded default, and a target for air-gapped copies.

Writes go to a hidden temp file beside the final name and are renamed into place only
when complete, so a crash mid-dump leaves no object that looks finished.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from adapters.storage.base import ObjectExistsError, ObjectInfo, PutResult, Storage
from core.config import StorageConfig
from core.errors import NotFoundError, StorageError

_TMP_MARK = ".partial-"
_READ_BLOCK = 1024 * 1024


class LocalStorage(Storage):
    def __init__(self, cfg: StorageConfig) -> None:
        self.cfg = cfg
        self.root = Path(unquote(urlsplit(cfg.url).path))

    def _path(self, key: str) -> Path:
        clean = key.lstrip("/")
        if ".." in Path(clean).parts:
            raise StorageError(f"refusing object key {key!r}", detail="Keys may not contain '..'.")
        return self.root / clean

    def _error(self, action: str, key: str, exc: OSError) -> StorageError:
        return StorageError(
            f"cannot {action} {key} in {self.describe()}",
            detail=exc.strerror or str(exc),
            hint="Check that the folder exists and the bot's user may write to it.",
        )

    def put_stream(
        self,
        key: str,
        chunks: Iterable[bytes],
        content_type: str = "application/octet-stream",
        create_only: bool = False,
    ) -> PutResult:
        path = self._path(key)
        tmp = path.with_name(f"{_TMP_MARK}{path.name}.{uuid.uuid4().hex[:8]}")
        digest = hashlib.sha256()
        size = 0
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as fh:
                for chunk in chunks:
                    fh.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                fh.flush()
                os.fsync(fh.fileno())
            if create_only:
                os.link(tmp, path)  # FileExistsError instead of replacing what is there
                tmp.unlink()
            else:
                os.replace(tmp, path)
        except FileExistsError:
            tmp.unlink(missing_ok=True)
            raise ObjectExistsError(
                f"storage refused to write {key} in {self.describe()}: it already exists",
                hint="backupbot never overwrites a stored object; nothing was replaced. Run it again for a new id.",
            ) from None
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise self._error("write", key, exc) from None
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return PutResult(size, digest.hexdigest())

    def put_bytes(
        self, key: str, data: bytes, content_type: str = "application/octet-stream", create_only: bool = False
    ) -> None:
        self.put_stream(key, [data], content_type, create_only=create_only)

    def get_stream(self, key: str) -> Iterator[bytes]:
        path = self._path(key)
        try:
            fh = open(path, "rb")  # noqa: SIM115 - closed by the generator
        except FileNotFoundError:
            raise NotFoundError(f"object {key} does not exist in {self.describe()}") from None
        except OSError as exc:
            raise self._error("read", key, exc) from None
        return self._read(fh)

    @staticmethod
    def _read(fh: Any) -> Iterator[bytes]:
        with fh:
            while block := fh.read(_READ_BLOCK):
                yield block

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        if not self.root.is_dir():
            return
        for dirpath, _dirs, files in os.walk(self.root):
            for name in sorted(files):
                if name.startswith(_TMP_MARK):
                    continue
                full = Path(dirpath) / name
                key = full.relative_to(self.root).as_posix()
                if not key.startswith(prefix):
                    continue
                st = full.stat()
                etag = f"{st.st_mtime_ns:x}-{st.st_size:x}"
                yield ObjectInfo(key, st.st_size, datetime.fromtimestamp(st.st_mtime, UTC), etag)

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink(missing_ok=True)
        except OSError as exc:
            raise self._error("delete", key, exc) from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def head(self, key: str) -> dict[str, Any]:
        try:
            st = self._path(key).stat()
        except FileNotFoundError:
            raise NotFoundError(f"object {key} does not exist in {self.describe()}") from None
        return {"size": st.st_size, "last_modified": datetime.fromtimestamp(st.st_mtime, UTC)}

    def check_writable(self) -> None:
        probe = f".backupbot-probe-{uuid.uuid4().hex[:8]}"
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise self._error("create", str(self.root), exc) from None
        self.put_bytes(probe, b"probe")
        self.delete(probe)

    def abort_incomplete(self, prefix: str = "") -> int:
        count = 0
        if not self.root.is_dir():
            return 0
        for dirpath, _dirs, files in os.walk(self.root):
            for name in files:
                full = Path(dirpath) / name
                if name.startswith(_TMP_MARK) and full.relative_to(self.root).as_posix().startswith(prefix):
                    full.unlink(missing_ok=True)
                    count += 1
        return count

    def describe(self) -> str:
        return f"file://{self.root}"
