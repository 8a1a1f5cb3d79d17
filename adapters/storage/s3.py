"""S3 and S3-compatible object storage (AWS, OCI, GCS interoperability, MinIO, R2).

Why our own multipart upload: boto3's ``upload_fileobj`` on an unseekable stream buffers
far ahead of the network (hundreds of MB for a fast dump). Here parts are cut from the
stream one at a time and at most ``IN_FLIGHT`` of them are uploading, so memory stays at a
few parts whatever the size of the database. Any failure — in the stream we are fed, in a
part after its retries, or an interrupt — aborts the upload, so no half object is left.

Retries come in two layers: botocore's own (``standard``/``adaptive`` mode, ``max_attempts``
from the config) for each request, and tenacity around a whole part for the transient
failures botocore gives up on (5xx, timeouts, resets). Which failures are transient, and
what a permanent one tells the operator, is decided in ``s3_errors.py``.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import boto3
import botocore.session
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError
from botocore.utils import parse_timestamp
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_exponential

from adapters.storage.base import (
    ObjectExistsError,
    ObjectInfo,
    OpenUpload,
    PutResult,
    Storage,
    UploadStarted,
    describe_action,
)
from adapters.storage.s3_actions import denied
from adapters.storage.s3_errors import error_code, http_status, is_transient, storage_error
from core.config import StorageConfig
from core.errors import NotFoundError, StorageError
from core.i18n import _, ngettext
from core.redact import redact

log = logging.getLogger(__name__)

IN_FLIGHT = 2  # parts uploading at once; with the part being filled this bounds memory
DELETE_BATCH = 1000  # keys in one DeleteObjects request, S3's limit
# Answers of stores that do not implement DeleteObjects (e.g. GCS's XML API): delete one by one.
_NO_BATCH_DELETE = ("NotImplemented", "MethodNotAllowed", "501", "405")
PART_RETRIES = 3  # whole-part attempts on top of botocore's per-request retries
_READ_BLOCK = 1024 * 1024

T = TypeVar("T")
PROBE_KEY = ".backupbot-probe/writable"


def _multipart_etag(parts: dict[int, str]) -> str:
    """S3's ETag of a completed multipart upload: md5 of the parts' md5s, then "-N".

    Only meaningful without SSE-KMS (whose ETags are not md5s); a mismatch just means
    "not provably ours", which is reported as a clash, never as success.
    """
    try:
        raw = b"".join(bytes.fromhex(parts[n].strip('"')) for n in sorted(parts))
    except ValueError:
        return "?"
    return f"{hashlib.md5(raw, usedforsecurity=False).hexdigest()}-{len(parts)}"


def _timestamp(value: str) -> datetime:
    """ISO 8601 (every key's LastModified in a listing) without dateutil, else botocore's parser.

    dateutil's general parser took two thirds of the time of reading a 1,000-key listing
    page; what S3 sends there is plain ISO 8601. Header dates (RFC 1123) fall through.
    """
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return parse_timestamp(value)  # type: ignore[no-any-return]
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _botocore_session() -> botocore.session.Session:
    session = botocore.session.get_session()
    session.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=_timestamp)
    return session


def _content_md5(request: Any, **_kwargs: Any) -> None:
    """DeleteObjects with a Content-MD5, which MinIO, Ceph and other S3-compatible stores demand.

    botocore sends only a CRC32 checksum since 1.36 (AWS takes either); without the MD5 those
    stores refuse the whole batch and nothing would ever be pruned.
    """
    body = request.body
    if isinstance(body, (bytes, bytearray)) and "Content-MD5" not in request.headers:
        digest = hashlib.md5(body, usedforsecurity=False).digest()
        request.headers["Content-MD5"] = base64.b64encode(digest).decode()


def _split_url(url: str) -> tuple[str, str]:
    rest = url[len("s3://") :]
    bucket, _sep, prefix = rest.partition("/")
    prefix = prefix.strip("/")
    return bucket, f"{prefix}/" if prefix else ""


def _objects(n: int) -> str:
    return ngettext("{n} object", "{n} objects", n).format(n=n)


def _missing(key: str, storage: str) -> NotFoundError:
    return NotFoundError(_("object {key} does not exist in {storage}").format(key=key, storage=storage))


class S3Storage(Storage):
    def __init__(self, cfg: StorageConfig, client: Any = None) -> None:
        self.cfg = cfg
        self.bucket, self.prefix = _split_url(cfg.url)
        self.part_size = cfg.part_size_mb * 1024 * 1024
        self.client = client or self._make_client()
        self._lock_enabled = False

    def _make_client(self) -> Any:
        config = BotoConfig(
            retries={"mode": "standard", "max_attempts": max(1, self.cfg.max_attempts)},
            connect_timeout=10,
            read_timeout=120,
            max_pool_connections=IN_FLIGHT + 4,
            # Third-party S3 endpoints (OCI, GCS interop, older MinIO/R2) reject the newer
            # default CRC checksums; send them only where the API requires one.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            s3={"addressing_style": "path"} if self.cfg.endpoint_url else {},
        )
        client = self._session().client(
            "s3",
            endpoint_url=self.cfg.endpoint_url or None,
            region_name=self.cfg.region or None,
            config=config,
        )
        client.meta.events.register("before-sign.s3.DeleteObjects", _content_md5)
        return client

    def _session(self) -> Any:
        """boto3's usual credential chain; a reader of another bucket may bring its own."""
        return boto3.session.Session(botocore_session=_botocore_session())

    # ------------------------------------------------------------ helpers

    def _key(self, key: str) -> str:
        return self.prefix + key.lstrip("/")

    def describe(self) -> str:
        where = f"s3://{self.bucket}/{self.prefix}"
        if self.cfg.endpoint_url:
            where += f" at {redact(self.cfg.endpoint_url)}"
        return where

    def _error(self, action: str, key: str, exc: BaseException) -> StorageError:
        """``action`` is a key of ``s3_errors.ACTIONS`` ("read", "write", …)."""
        where = describe_action(action, key, self.describe())
        return storage_error(where, exc, self.cfg.max_attempts, denied(exc, self.bucket, self._key(key)))

    def _call(self, action: str, key: str, fn: Callable[..., T], **kwargs: Any) -> T:
        try:
            return fn(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise self._error(action, key, exc) from None

    def _write_args(self, lock: bool = True) -> dict[str, Any]:
        # sse = "none": for S3-compatible stores without server-side encryption (MinIO without a
        # KMS, some R2/B2 setups), which refuse the header; every object is still AES-256-GCM
        # encrypted by us before it leaves the machine.
        args: dict[str, Any] = {} if self.cfg.sse == "none" else {"ServerSideEncryption": self.cfg.sse}
        if self.cfg.sse == "aws:kms" and self.cfg.kms_key_id:
            args["SSEKMSKeyId"] = self.cfg.kms_key_id
        if lock and self.cfg.object_lock_mode and self.cfg.object_lock_days > 0:
            args["ObjectLockMode"] = self.cfg.object_lock_mode
            args["ObjectLockRetainUntilDate"] = datetime.now(UTC) + timedelta(days=self.cfg.object_lock_days)
        return args

    def _md5(self, data: bytes | bytearray, lock: bool = True) -> dict[str, str]:
        # S3 insists on a Content-MD5 for writes that carry an Object Lock retention.
        if not (lock and self.cfg.object_lock_mode and self.cfg.object_lock_days > 0):
            return {}
        return {"ContentMD5": base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()}

    # ------------------------------------------------------------ writes

    def put_bytes(
        self,
        key: str,
        data: bytes,
        content_type: str = "application/octet-stream",
        *,
        create_only: bool = False,
    ) -> None:
        self._put(key, data, content_type, lock=True, create_only=create_only)

    def _put(self, key: str, data: bytes, content_type: str, lock: bool, create_only: bool = False) -> None:
        full = self._key(key)
        self._conditional(
            "write",
            key,
            create_only,
            lambda: self._holds(key, data),
            self.client.put_object,
            Bucket=self.bucket,
            Key=full,
            Body=data,
            ContentType=content_type,
            **self._write_args(lock),
            **self._md5(data, lock),
        )

    def _conditional(
        self,
        action: str,
        key: str,
        create_only: bool,
        ours: Callable[[], bool],
        fn: Callable[..., T],
        **kwargs: Any,
    ) -> T | None:
        """A write that, with ``create_only=True``, succeeds only if ``key`` does not exist yet.

        S3 (since 2024) and moto take ``If-None-Match: *`` on PutObject and
        CompleteMultipartUpload and answer 412 (or 409 for a concurrent conditional write).
        A store that does not implement the header (501) gets a look first instead.
        Why ``ours``: botocore repeats a request that timed out, and the first attempt may
        have been stored; the repeat then gets 412 for our own object. If what is there is
        exactly what we wrote, the write succeeded.
        """
        if not create_only:
            return self._call(action, key, fn, **kwargs)
        try:
            return fn(IfNoneMatch="*", **kwargs)
        except ClientError as exc:
            status, code = http_status(exc), error_code(exc)
            if status in (409, 412) or code in ("PreconditionFailed", "ConditionalRequestConflict"):
                if status == 412 and ours():
                    return None
                raise self._exists(key) from None
            if status == 501 or code == "NotImplemented":
                log.warning(
                    "%s answered If-None-Match with 501: this create-only write looks first", self.describe()
                )
                if self.exists(key):
                    raise self._exists(key) from None
                return self._call(action, key, fn, **kwargs)
            raise self._error(action, key, exc) from None
        except BotoCoreError as exc:
            raise self._error(action, key, exc) from None

    def _holds(self, key: str, data: bytes) -> bool:
        """Whether ``key`` holds exactly ``data`` (a small object: a manifest, a short dump)."""
        try:
            if int(self.head(key)["size"]) != len(data):
                return False
            return self.get_bytes(key) == data
        except (NotFoundError, StorageError):
            return False

    def _etag(self, key: str) -> str:
        try:
            return str(self.head(key).get("etag") or "").strip('"')
        except (NotFoundError, StorageError):
            return ""

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

    def put_stream(
        self,
        key: str,
        chunks: Iterable[bytes],
        content_type: str = "application/octet-stream",
        *,
        create_only: bool = False,
        on_started: UploadStarted | None = None,
    ) -> PutResult:
        full = self._key(key)
        digest = hashlib.sha256()
        size = 0
        buf = bytearray()
        upload_id: str | None = None
        parts: dict[int, str] = {}
        futures: list[Future[None]] = []
        slots = threading.BoundedSemaphore(IN_FLIGHT)
        spare: list[bytearray] = []  # part buffers whose upload finished, filled again
        pool = ThreadPoolExecutor(max_workers=IN_FLIGHT, thread_name_prefix="s3-part")

        def check_failed() -> None:
            for fut in futures:
                if fut.done() and fut.exception() is not None:
                    raise fut.exception()  # type: ignore[misc]

        def submit(number: int, data: bytearray) -> None:
            # Blocks while IN_FLIGHT parts are uploading: this is what bounds memory.
            while not slots.acquire(timeout=0.2):
                check_failed()
            check_failed()
            fut = pool.submit(self._upload_part, full, upload_id, number, data, parts)

            def done(_fut: Future[None]) -> None:
                spare.append(data)  # before the slot frees, so the next part can take it
                slots.release()

            fut.add_done_callback(done)
            futures.append(fut)

        try:
            number = 0
            part = self.part_size
            # Parts are cut at exactly part_size into IN_FLIGHT + 1 buffers that are allocated
            # once and reused: no growing bytearray (whose reallocation briefly holds two
            # copies), no churn of 16 MB blocks that the allocator keeps instead of returning,
            # and every part but the last has the same size, which R2 and some other
            # S3-compatible stores require.
            buf = bytearray(part)
            filled = 0
            for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                view = memoryview(chunk)
                while view:
                    take = min(part - filled, len(view))
                    buf[filled : filled + take] = view[:take]
                    filled += take
                    view = view[take:]
                    if filled == part:
                        if upload_id is None:
                            upload_id = self._create_upload(key, full, content_type)
                            if on_started is not None:
                                on_started(key, upload_id)
                        number += 1
                        submit(number, buf)  # handed over, not copied
                        buf = spare.pop() if spare else bytearray(part)
                        filled = 0
            if upload_id is None:
                self.put_bytes(key, bytes(buf[:filled]), content_type, create_only=create_only)
            else:
                if filled:
                    del buf[filled:]
                    number += 1
                    submit(number, buf)
                buf = bytearray()
                for fut in futures:
                    fut.result()
                completed = self._conditional(
                    "complete the upload of",
                    key,
                    create_only,
                    lambda: self._etag(key) == _multipart_etag(parts),
                    self.client.complete_multipart_upload,
                    Bucket=self.bucket,
                    Key=full,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": [{"PartNumber": n, "ETag": parts[n]} for n in sorted(parts)]},
                )
                if completed is None:  # our object was already there (a repeated request): close this upload
                    self._abort(full, upload_id)
        except BaseException as exc:
            for fut in futures:
                fut.cancel()
            pool.shutdown(wait=True, cancel_futures=True)
            left = None
            if upload_id is not None and not self._abort(full, upload_id):
                left = _(
                    "The partial upload of {key} (upload id {upload_id}) could not be aborted; "
                    "`backupbot prune --confirm` (in Slack `/backup prune DATABASE --confirm`) removes it once "
                    "it is a day old, or the bucket's "
                    "lifecycle rule for incomplete multipart uploads does."
                ).format(key=key, upload_id=upload_id)
            if isinstance(exc, (ClientError, BotoCoreError)):
                err = self._error("upload", key, exc)
                err.upload_left = left  # type: ignore[attr-defined]
                raise err from None
            if left is not None:
                exc.upload_left = left  # type: ignore[attr-defined]
            raise
        finally:
            pool.shutdown(wait=True)
        return PutResult(size, digest.hexdigest())

    def _create_upload(self, key: str, full: str, content_type: str) -> str:
        resp = self._call(
            "start the upload of",
            key,
            self.client.create_multipart_upload,
            Bucket=self.bucket,
            Key=full,
            ContentType=content_type,
            **self._write_args(),
        )
        return str(resp["UploadId"])

    @retry(
        retry=retry_if_exception(is_transient),
        stop=stop_after_attempt(PART_RETRIES),
        wait=wait_exponential(multiplier=0.5, max=8),
        reraise=True,
    )
    def _upload_part(
        self, full: str, upload_id: str | None, number: int, data: bytearray, parts: dict[int, str]
    ) -> None:
        resp = self.client.upload_part(
            Bucket=self.bucket, Key=full, UploadId=upload_id, PartNumber=number, Body=data, **self._md5(data)
        )
        parts[number] = resp["ETag"]

    def _abort(self, full: str, upload_id: str) -> bool:
        """True once the upload is gone; False (logged) when storage could not be told."""
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=full, UploadId=upload_id)
            return True
        except ClientError as exc:
            if error_code(exc) == "NoSuchUpload" or http_status(exc) == 404:
                return True
            log.warning("could not abort multipart upload of %s: %s", full, redact(str(exc)))
        except BotoCoreError as exc:
            log.warning("could not abort multipart upload of %s: %s", full, redact(str(exc)))
        return False

    def list_uploads(self, prefix: str = "") -> list[OpenUpload]:
        found = []
        full_prefix = self._key(prefix) if prefix else self.prefix
        paginator = self.client.get_paginator("list_multipart_uploads")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=full_prefix):
                for upload in page.get("Uploads", []):
                    key = upload["Key"][len(self.prefix) :]
                    found.append(OpenUpload(key, upload["UploadId"], upload["Initiated"]))
        except (ClientError, BotoCoreError) as exc:
            raise self._error("list open uploads under", prefix, exc) from None
        return found

    def abort_upload(self, key: str, upload_id: str) -> bool:
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=self._key(key), UploadId=upload_id)
            return True
        except ClientError as exc:
            if error_code(exc) == "NoSuchUpload" or http_status(exc) == 404:
                return False
            raise self._error("abort the upload of", key, exc) from None
        except BotoCoreError as exc:
            raise self._error("abort the upload of", key, exc) from None

    def delete(self, key: str) -> None:
        self._call("delete", key, self.client.delete_object, Bucket=self.bucket, Key=self._key(key))

    def delete_many(self, keys: Sequence[str]) -> dict[str, str]:
        """DeleteObjects, 1,000 keys a request; a batch refused as a whole fails each of its keys."""
        failed: dict[str, str] = {}
        todo = list(keys)
        for start in range(0, len(todo), DELETE_BATCH):
            batch = todo[start : start + DELETE_BATCH]
            try:
                resp = self.client.delete_objects(
                    Bucket=self.bucket,
                    Delete={"Objects": [{"Key": self._key(k)} for k in batch], "Quiet": True},
                )
            except ClientError as exc:
                if error_code(exc) in _NO_BATCH_DELETE or str(http_status(exc)) in _NO_BATCH_DELETE:
                    return failed | super().delete_many(todo[start:])
                text = self._error("delete", _objects(len(batch)), exc).message
                failed.update(dict.fromkeys(batch, text))
                continue
            except BotoCoreError as exc:
                text = self._error("delete", _objects(len(batch)), exc).message
                failed.update(dict.fromkeys(batch, text))
                continue
            for err in resp.get("Errors", []):
                key = str(err.get("Key", ""))[len(self.prefix) :]
                # Worded as a DeleteObject failure would be: same codes, same hints.
                one = ClientError(
                    {"Error": {"Code": err.get("Code"), "Message": err.get("Message")}}, "DeleteObjects"
                )
                failed[key] = self._error("delete", key, one).message
        return failed

    def object_lock_possible(self) -> bool:
        """Configured in backupbot.toml, or enabled on the bucket (one request); unknown counts as yes."""
        if self.cfg.object_lock_mode and self.cfg.object_lock_days > 0:
            return True
        if self._lock_enabled:
            return True  # Object Lock cannot be turned off on a bucket; it can be turned on later
        try:
            resp = self.client.get_object_lock_configuration(Bucket=self.bucket)
        except ClientError as exc:
            return error_code(exc) != "ObjectLockConfigurationNotFoundError"
        except BotoCoreError:
            return True
        self._lock_enabled = resp.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") == "Enabled"
        return self._lock_enabled

    def check_writable(self) -> None:
        """One create-only write of a fixed probe: nothing to delete afterwards.

        The first run creates ``.backupbot-probe/writable``; every later one is answered 412
        (it exists), which S3 only says after the credential was allowed to write there, with
        the configured SSE, and which counts as success because the probe holds what we write.
        So a credential without s3:DeleteObject (a deploy pipeline's) can check the bucket, and
        no probe objects pile up. No Object Lock on the probe.
        """
        try:
            self._put(PROBE_KEY, b"probe", "text/plain", lock=False, create_only=True)
        except ObjectExistsError:
            # Something else at the probe's key, or a store without conditional writes: replace it.
            self._put(PROBE_KEY, b"probe", "text/plain", lock=False)

    # ------------------------------------------------------------ reads

    def get_stream(self, key: str) -> Iterator[bytes]:
        try:
            resp = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if error_code(exc) in ("NoSuchKey", "404"):
                raise _missing(key, self.describe()) from None
            raise self._error("read", key, exc) from None
        except BotoCoreError as exc:
            raise self._error("read", key, exc) from None
        return self._iter_body(key, resp["Body"])

    def _iter_body(self, key: str, body: Any) -> Iterator[bytes]:
        try:
            yield from body.iter_chunks(_READ_BLOCK)
        except (ClientError, BotoCoreError) as exc:
            raise self._error("read", key, exc) from None
        finally:
            body.close()

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self._key(prefix)):
                for obj in page.get("Contents", []):
                    yield ObjectInfo(
                        obj["Key"][len(self.prefix) :],
                        int(obj["Size"]),
                        obj["LastModified"],
                        str(obj.get("ETag") or ""),
                    )
        except (ClientError, BotoCoreError) as exc:
            raise self._error("list", prefix, exc) from None

    def list_dirs(self, prefix: str) -> list[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        found: list[str] = []
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self._key(prefix), Delimiter="/"):
                found += [p["Prefix"][len(self.prefix) :] for p in page.get("CommonPrefixes", [])]
        except (ClientError, BotoCoreError) as exc:
            raise self._error("list", prefix, exc) from None
        return sorted(found)

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
            return True
        except ClientError as exc:
            if http_status(exc) == 404:
                return False
            raise self._error("check", key, exc) from None
        except BotoCoreError as exc:
            raise self._error("check", key, exc) from None

    def head(self, key: str) -> dict[str, Any]:
        try:
            resp = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if http_status(exc) == 404:
                raise _missing(key, self.describe()) from None
            raise self._error("check", key, exc) from None
        except BotoCoreError as exc:
            raise self._error("check", key, exc) from None
        return {
            "size": int(resp["ContentLength"]),
            "last_modified": resp["LastModified"],
            "etag": resp.get("ETag"),
            "server_side_encryption": resp.get("ServerSideEncryption"),
            "sse_kms_key_id": resp.get("SSEKMSKeyId"),
            "object_lock_mode": resp.get("ObjectLockMode"),
            "object_lock_retain_until": resp.get("ObjectLockRetainUntilDate"),
        }
