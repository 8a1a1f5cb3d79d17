"""A local folder as storage: the embedded default, and a target for air-gapped copies.

Writes go to a hidden temp file beside the final name and are renamed into place only
when complete, so a crash mid-dump leaves no object that looks finished. A create-only
write (``create_only=True``) links the temp file to its name instead of renaming: ``link``
fails if the name exists, the same all-or-nothing test as ``O_EXCL`` but for a finished file.
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

from adapters.storage.base import (
    ObjectExistsError,
    ObjectInfo,
    OpenUpload,
    PutResult,
    Storage,
    UploadStarted,
    describe_action,
)
from core.config import StorageConfig
from core.errors import NotFoundError, StorageError
from core.i18n import _

_TMP_MARK = ".partial-"
_READ_BLOCK = 1024 * 1024


class LocalStorage(Storage):
    def __init__(self, cfg: StorageConfig) -> None:
        self.cfg = cfg
        self.root = Path(unquote(urlsplit(cfg.url).path))

    def _path(self, key: str) -> Path:
        clean = key.lstrip("/")
        if ".." in Path(clean).parts:
            raise StorageError(
                _("refusing object key {key}").format(key=repr(key)), detail=_("Keys may not contain '..'.")
            )
        return self.root / clean

    def _error(self, action: str, key: str, exc: OSError) -> StorageError:
        return StorageError(
            _("cannot {action}").format(action=describe_action(action, key, self.describe())),
            detail=exc.strerror or str(exc),
            hint=_("Check that the folder exists and the bot's user may write to it."),
        )

    def put_stream(
        self,
        key: str,
        chunks: Iterable[bytes],
        content_type: str = "application/octet-stream",
        *,
        create_only: bool = False,
        on_started: UploadStarted | None = None,
    ) -> PutResult:
        path = self._path(key)
        tmp = path.with_name(f"{_TMP_MARK}{path.name}.{uuid.uuid4().hex[:8]}")
        digest = hashlib.sha256()
        size = 0
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if create_only and path.exists():
                raise self._exists(key)
            with open(tmp, "xb") as fh:
                if on_started is not None:
                    on_started(key, tmp.name)
                for chunk in chunks:
                    fh.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                fh.flush()
                os.fsync(fh.fileno())
            if not create_only:
                os.replace(tmp, path)
            else:
                try:
                    os.link(tmp, path)
                except FileExistsError:
                    raise self._exists(key) from None
                tmp.unlink()
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise self._error("write", key, exc) from None
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return PutResult(size, digest.hexdigest())

    def _exists(self, key: str) -> ObjectExistsError:
        return ObjectExistsError(
            _("{key} already exists in {storage}: an object is already there").format(
                key=key, storage=self.describe()
            ),
            detail=_("It was written by another process at the same moment; it was not overwritten."),
            hint=_(
                "backupbot never overwrites a stored object; nothing was replaced. Run the operation "
                "again: it picks a new name."
            ),
        )

    def put_bytes(
        self,
        key: str,
        data: bytes,
        content_type: str = "application/octet-stream",
        *,
        create_only: bool = False,
    ) -> None:
        self.put_stream(key, [data], content_type, create_only=create_only)

    def get_stream(self, key: str) -> Iterator[bytes]:
        path = self._path(key)
        try:
            fh = open(path, "rb")  # noqa: SIM115 - closed by the generator
        except FileNotFoundError:
            raise NotFoundError(
                _("object {key} does not exist in {storage}").format(key=key, storage=self.describe())
            ) from None
        except OSError as exc:
            raise self._error("read", key, exc) from None
        return self._read(fh)

    @staticmethod
    def _read(fh: Any) -> Iterator[bytes]:
        with fh:
            while block := fh.read(_READ_BLOCK):
                yield block

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        # Walk only the folder the prefix ends in, not the whole store.
        start = self._path(prefix[: prefix.rfind("/") + 1]) if "/" in prefix else self.root
        if not start.is_dir():
            return
        for dirpath, dirs, files in os.walk(start):
            dirs.sort()
            for name in sorted(files):
                if name.startswith(_TMP_MARK):
                    continue
                full = Path(dirpath) / name
                key = full.relative_to(self.root).as_posix()
                if not key.startswith(prefix):
                    continue
                try:
                    st = full.stat()
                except FileNotFoundError:
                    continue  # deleted while we walked
                # Writes replace the file (new inode) and stamp a new mtime: the three
                # together change whenever the content can have changed.
                etag = f"{st.st_ino:x}-{st.st_mtime_ns:x}-{st.st_size:x}"
                yield ObjectInfo(key, st.st_size, datetime.fromtimestamp(st.st_mtime, UTC), etag)

    def list_dirs(self, prefix: str) -> list[str]:
        folder, _sep, stem = prefix.rpartition("/")
        base = self._path(folder) if folder else self.root
        try:
            names = [e.name for e in os.scandir(base) if e.is_dir() and e.name.startswith(stem)]
        except (FileNotFoundError, NotADirectoryError):
            return []
        except OSError as exc:
            raise self._error("list", prefix, exc) from None
        return sorted(f"{folder}/{n}/" if folder else f"{n}/" for n in names)

    def object_lock_possible(self) -> bool:
        return False

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
            raise NotFoundError(
                _("object {key} does not exist in {storage}").format(key=key, storage=self.describe())
            ) from None
        return {"size": st.st_size, "last_modified": datetime.fromtimestamp(st.st_mtime, UTC)}

    def check_writable(self) -> None:
        probe = f".backupbot-probe-{uuid.uuid4().hex[:8]}"
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise self._error("create", str(self.root), exc) from None
        self.put_bytes(probe, b"probe")
        self.delete(probe)

    def list_uploads(self, prefix: str = "") -> list[OpenUpload]:
        found: list[OpenUpload] = []
        if not self.root.is_dir():
            return found
        for dirpath, _dirs, files in os.walk(self.root):
            for name in files:
                if not name.startswith(_TMP_MARK):
                    continue
                full = Path(dirpath) / name
                final = name[len(_TMP_MARK) :].rsplit(".", 1)[0]
                key = (Path(dirpath) / final).relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    try:
                        started = datetime.fromtimestamp(full.stat().st_mtime, UTC)
                    except FileNotFoundError:
                        continue  # finished or removed meanwhile
                    found.append(OpenUpload(key, name, started))
        return found

    def abort_upload(self, key: str, upload_id: str) -> bool:
        if not upload_id.startswith(_TMP_MARK) or "/" in upload_id:
            raise StorageError(
                _("refusing upload id {upload_id}").format(upload_id=repr(upload_id)),
                detail=_("Not a temp file of this store."),
            )
        tmp = self._path(key).with_name(upload_id)
        try:
            tmp.unlink()
            return True
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise self._error("remove the partial upload of", key, exc) from None

    def describe(self) -> str:
        return f"file://{self.root}"
