"""The application's bucket, opened for reading only.

Why a class of its own instead of handing the engine a ``Storage``: the app's bucket is
someone else's data, and copying it must never delete or change anything there. This
wrapper exposes only list, head and read, so no code path of the files backup *can*
call a write. It reuses ``S3Storage`` for the client (retries, timeouts, error hints)
and brings its own credentials when ``[files]`` names a profile or environment variables,
so the app's bucket may need other keys than the backup bucket.

Reads are conditional on the ETag that was listed (``If-Match``): a file replaced between
the listing and the copy is read again as it is now, never as half of each version.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from adapters.storage.base import ObjectInfo
from adapters.storage.s3 import S3Storage
from adapters.storage.s3_errors import error_code, http_status
from core.config_types import FilesConfig, StorageConfig
from core.errors import ConfigError, NotFoundError, StorageError
from core.i18n import _


class SourceChanged(StorageError):
    """The object no longer has the ETag it was listed with."""


def _env(name: str, setting: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise ConfigError(
            _("the credentials for the application's bucket are not set: {env} is empty").format(env=name),
            detail=_(
                "[files] {setting} names the environment variable {env}, which is empty or unset."
            ).format(setting=setting, env=name),
            hint=_(
                "Export {env} in the bot's environment, or remove {setting} to use the [storage] credentials."
            ).format(env=name, setting=setting),
        )
    return value


class _AppBucket(S3Storage):
    def __init__(self, files: FilesConfig) -> None:
        self.files = files
        storage = StorageConfig(
            url=files.source_url,
            endpoint_url=files.endpoint_url,
            region=files.region,
            max_attempts=files.max_attempts,
        )
        super().__init__(storage)

    def _session(self) -> Any:
        f = self.files
        kwargs: dict[str, Any] = {}
        if f.profile:
            kwargs["profile_name"] = f.profile
        if f.access_key_id_env:
            kwargs["aws_access_key_id"] = _env(f.access_key_id_env, "access_key_id_env")
            kwargs["aws_secret_access_key"] = _env(f.secret_access_key_env, "secret_access_key_env")
            if f.session_token_env:
                kwargs["aws_session_token"] = _env(f.session_token_env, "session_token_env")
        try:
            return boto3.session.Session(**kwargs)
        except BotoCoreError as exc:  # e.g. ProfileNotFound
            raise ConfigError(
                _("cannot open the application's bucket with the configured credentials"),
                detail=str(exc),
                hint=_("Check [files] profile (it must exist in ~/.aws/config) or the *_env settings."),
            ) from None


class SourceBucket:
    """List, head and read; nothing else exists here on purpose."""

    def __init__(self, files: FilesConfig) -> None:
        self._s3 = _AppBucket(files)

    def describe(self) -> str:
        return self._s3.describe()

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        return self._s3.list(prefix)

    def head(self, key: str) -> dict[str, Any]:
        return self._s3.head(key)

    def read(self, key: str, etag: str = "") -> Iterator[bytes]:
        """The object's bytes; raises ``SourceChanged`` if it no longer has ``etag``."""
        s3 = self._s3
        kwargs: dict[str, Any] = {"Bucket": s3.bucket, "Key": s3._key(key)}
        if etag:
            kwargs["IfMatch"] = etag
        try:
            resp = s3.client.get_object(**kwargs)
        except ClientError as exc:
            if http_status(exc) == 412 or error_code(exc) == "PreconditionFailed":
                raise SourceChanged(
                    _("{key} changed in {storage} while it was being copied").format(
                        key=key, storage=self.describe()
                    )
                ) from None
            if error_code(exc) in ("NoSuchKey", "404"):
                raise NotFoundError(
                    _("object {key} does not exist in {storage}").format(key=key, storage=self.describe())
                ) from None
            raise s3._error("read", key, exc) from None
        except BotoCoreError as exc:
            raise s3._error("read", key, exc) from None
        return s3._iter_body(key, resp["Body"])


def open_source(files: FilesConfig) -> SourceBucket:
    return SourceBucket(files)
