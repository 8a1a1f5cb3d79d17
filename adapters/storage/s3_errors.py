"""What an S3 failure means: worth another try, or a refusal the operator has to fix.

Kept apart from the transfer code in ``s3.py`` because it changes for other reasons: a
provider's new error code or a better hint lands here, a change in how parts are cut and
uploaded lands there. The tenacity retry around a part and every message a person reads
use the same rules, so what is retried and what is reported as permanent cannot drift apart.
Permanent errors (403, no such bucket, bad credentials) are never retried and carry a hint.
"""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from core.errors import StorageError
from core.redact import redact

_PERMANENT = {
    "AccessDenied": "Check the credentials (boto3's chain: env, profile, instance role) and that the "
    "policy allows s3:PutObject, s3:GetObject, s3:ListBucket, s3:DeleteObject and s3:AbortMultipartUpload.",
    "InvalidAccessKeyId": "The access key is not known to this endpoint; check AWS_ACCESS_KEY_ID and endpoint_url.",
    "SignatureDoesNotMatch": "The secret key is wrong for this access key; check AWS_SECRET_ACCESS_KEY.",
    "NoSuchBucket": "Create the bucket or fix [storage] url.",
    "PermanentRedirect": "The bucket is in another region; set [storage] region.",
    "AuthorizationHeaderMalformed": "The bucket is in another region; set [storage] region.",
    "NotImplemented": "The endpoint does not support something asked of it, most often server-side "
    'encryption (MinIO without a KMS, some R2/B2 setups): set [storage] sse = "none" (backups stay '
    "encrypted client-side with AES-256-GCM); `backupbot doctor` says which the endpoint accepts.",
    "PreconditionFailed": "An object with this key is already in the bucket and backupbot never overwrites "
    "one (it writes with If-None-Match: *); nothing was replaced. Run the dump again for a new id.",
}


def http_status(exc: BaseException) -> int:
    """The HTTP status of a ``ClientError``, 0 for anything that never got an answer."""
    if isinstance(exc, ClientError):
        return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    return 0


def error_code(exc: BaseException) -> str:
    """S3's error code (``NoSuchKey``, ``AccessDenied``…): steadier across providers than the text."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def is_transient(exc: BaseException) -> bool:
    """5xx, throttling, timeouts and dropped connections are worth another try."""
    if isinstance(
        exc, (EndpointConnectionError, ConnectionClosedError, ReadTimeoutError, ConnectTimeoutError)
    ):
        return True
    if isinstance(exc, ClientError):
        if error_code(exc) == "NotImplemented":
            return False  # 501: asking again gets the same answer
        return http_status(exc) >= 500 or error_code(exc) in ("SlowDown", "RequestTimeout", "Throttling")
    return False


def storage_error(where: str, exc: BaseException, max_attempts: int, denied: str = "") -> StorageError:
    """The failure as the operator should read it: what to fix, not botocore's text alone.

    ``where`` is "<action> <key> in <storage>"; ``max_attempts`` is botocore's per-request
    retry budget, named so a transient failure says it was already retried. ``denied`` names
    the IAM action and resource of a refused request (``s3_actions.denied``).
    """
    code = error_code(exc)
    if isinstance(exc, NoCredentialsError):
        return StorageError(
            f"no S3 credentials to {where}",
            detail="boto3 found no credentials in the environment, a profile or an instance role.",
            hint="Export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE).",
        )
    if denied and (code == "AccessDenied" or http_status(exc) == 403):
        action, _, arn = denied.partition(" denied on ")
        return StorageError(
            f"storage refused to {where}: {code or 'HTTP 403'} ({denied})",
            detail=redact(str(exc)),
            hint=f"Grant {action} on {arn} to this credential (docs/iam/ has the policy for each role: "
            "the bot, a deploy pipeline, a break-glass reader).",
        )
    if code in _PERMANENT or http_status(exc) == 403:
        return StorageError(
            f"storage refused to {where}: {code or 'HTTP 403'}",
            detail=redact(str(exc)),
            hint=_PERMANENT.get(code, _PERMANENT["AccessDenied"]),
        )
    if is_transient(exc) or isinstance(exc, BotoCoreError):
        return StorageError(
            f"storage kept failing to {where}",
            detail=redact(str(exc)) + f" (after {max_attempts} attempts per request)",
            hint="The storage service is failing or unreachable; check its status, endpoint_url and the network, then retry.",
        )
    return StorageError(f"storage failed to {where}", detail=redact(str(exc)))
