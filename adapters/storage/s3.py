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
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_exponential

from adapters.storage.base import ObjectExistsError, ObjectInfo, PutResult, Storage
from adapters.storage.s3_actions import denied
from adapters.storage.s3_errors import error_code, http_status, is_transient, storage_error
from core.config import StorageConfig
from core.errors import NotFoundError, StorageError
from core.redact import redact

log = logging.getLogger(__name__)

IN_FLIGHT = 2  # parts uploading at once; with the part being filled this bounds memory
PART_RETRIES = 3  # whole-part attempts on top of botocore's per-request retries
_READ_BLOCK = 1024 * 1024

T = TypeVar("T")
PROBE_KEY = ".backupbot-probe/writable"


def _split_url(url: str) -> tuple[str, str]:
    rest = url[len("s3://") :]
    bucket, _, prefix = rest.partition("/")
    prefix = prefix.strip("/")
    return bucket, f"{prefix}/" if prefix else ""


class S3Storage(Storage):
    def __init__(self, cfg: StorageConfig, client: Any = None) -> None:
        self.cfg = cfg
        self.bucket, self.prefix = _split_url(cfg.url)
        self.part_size = cfg.part_size_mb * 1024 * 1024
        self.client = client or self._make_client()
        # Stores that answer If-None-Match with 501 get a look-then-write instead (see _create).
        self.conditional_writes = True

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
        return self._session().client(
            "s3",
            endpoint_url=self.cfg.endpoint_url or None,
            region_name=self.cfg.region or None,
            config=config,
        )

    def _session(self) -> Any:
        """boto3's usual credential chain; a reader of another bucket may bring its own."""
        return boto3.session.Session()

    # ------------------------------------------------------------ helpers

    def _key(self, key: str) -> str:
        return self.prefix + key.lstrip("/")

    def describe(self) -> str:
        where = f"s3://{self.bucket}/{self.prefix}"
        if self.cfg.endpoint_url:
            where += f" at {redact(self.cfg.endpoint_url)}"
        return where

    def _error(self, action: str, key: str, exc: BaseException) -> StorageError:
        where = f"{action} {key or '(bucket)'} in {self.describe()}"
        return storage_error(where, exc, self.cfg.max_attempts, denied(exc, self.bucket, self._key(key)))

    def _call(self, action: str, key: str, fn: Callable[..., T], **kwargs: Any) -> T:
        try:
            return fn(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise self._error(action, key, exc) from None

    def _create(self, action: str, key: str, fn: Callable[..., T], create_only: bool, **kwargs: Any) -> T:
        """``fn(**kwargs)``; with ``create_only``, never replacing an object already at ``key``.

        If-None-Match: * lets the store refuse (412) atomically; a deploy pipeline's policy can
        insist on it (docs/iam/pipeline.json). A store without conditional writes that answers
        501 to it is asked again without the header after a look that the key is free (if the
        second answer is 501 too, the header was not the problem: SSE most often).
        """
        if not create_only:
            return self._call(action, key, fn, **kwargs)
        if self.conditional_writes:
            try:
                return fn(IfNoneMatch="*", **kwargs)
            except ClientError as exc:
                if http_status(exc) == 412:
                    raise self._exists(action, key) from None
                if error_code(exc) != "NotImplemented":
                    raise self._error(action, key, exc) from None
            except BotoCoreError as exc:
                raise self._error(action, key, exc) from None
            self.conditional_writes = False
            log.warning("%s answered If-None-Match with 501: create-only writes look first", self.describe())
        if self.exists(key):
            raise self._exists(action, key)
        return self._call(action, key, fn, **kwargs)

    def _exists(self, action: str, key: str) -> ObjectExistsError:
        return ObjectExistsError(
            f"storage refused to {action} {key} in {self.describe()}: an object is already there",
            hint="backupbot never overwrites a stored object (it writes with If-None-Match: *); nothing "
            "was replaced. Run it again for a new id.",
        )

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
        self, key: str, data: bytes, content_type: str = "application/octet-stream", create_only: bool = False
    ) -> None:
        self._put(key, data, content_type, lock=True, create_only=create_only)

    def _put(self, key: str, data: bytes, content_type: str, lock: bool, create_only: bool = False) -> None:
        self._create(
            "write",
            key,
            self.client.put_object,
            create_only,
            Bucket=self.bucket,
            Key=self._key(key),
            Body=data,
            ContentType=content_type,
            **self._write_args(lock),
            **self._md5(data, lock),
        )

    def put_stream(
        self,
        key: str,
        chunks: Iterable[bytes],
        content_type: str = "application/octet-stream",
        create_only: bool = False,
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
                self._create(
                    "complete the upload of",
                    key,
                    self.client.complete_multipart_upload,
                    create_only,
                    Bucket=self.bucket,
                    Key=full,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": [{"PartNumber": n, "ETag": parts[n]} for n in sorted(parts)]},
                )
        except BaseException as exc:
            for fut in futures:
                fut.cancel()
            pool.shutdown(wait=True, cancel_futures=True)
            if upload_id is not None:
                self._abort(full, upload_id)
            if isinstance(exc, (ClientError, BotoCoreError)):
                raise self._error("upload", key, exc) from None
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

    def _abort(self, full: str, upload_id: str) -> None:
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=full, UploadId=upload_id)
        except (ClientError, BotoCoreError) as exc:
            # The bucket's lifecycle rule or `abort_incomplete` at the next start cleans it up.
            log.warning("could not abort multipart upload of %s: %s", full, redact(str(exc)))

    def abort_incomplete(self, prefix: str = "") -> int:
        count = 0
        full_prefix = self._key(prefix) if prefix else self.prefix
        paginator = self.client.get_paginator("list_multipart_uploads")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=full_prefix):
                for upload in page.get("Uploads", []):
                    self._abort(upload["Key"], upload["UploadId"])
                    count += 1
        except (ClientError, BotoCoreError) as exc:
            raise self._error("list open uploads under", prefix, exc) from None
        return count

    def delete(self, key: str) -> None:
        self._call("delete", key, self.client.delete_object, Bucket=self.bucket, Key=self._key(key))

    def check_writable(self) -> None:
        """One create-only write of a fixed probe: nothing to delete afterwards.

        The first run creates ``.backupbot-probe/writable``; every later one is answered 412
        (it exists), which S3 only says after the credential was allowed to write there, with
        the configured SSE. So a credential without s3:DeleteObject (a deploy pipeline's) can
        check the bucket, and no probe objects pile up. No Object Lock on the probe.
        """
        try:
            self._put(PROBE_KEY, b"probe", "text/plain", lock=False, create_only=True)
        except ObjectExistsError:
            if not self.conditional_writes:  # a store without conditional writes: overwrite the probe
                self._put(PROBE_KEY, b"probe", "text/plain", lock=False)

    # ------------------------------------------------------------ reads

    def get_stream(self, key: str) -> Iterator[bytes]:
        try:
            resp = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if error_code(exc) in ("NoSuchKey", "404"):
                raise NotFoundError(f"object {key} does not exist in {self.describe()}") from None
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
                        str(obj.get("ETag", "")),
                    )
        except (ClientError, BotoCoreError) as exc:
            raise self._error("list", prefix, exc) from None

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
                raise NotFoundError(f"object {key} does not exist in {self.describe()}") from None
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
