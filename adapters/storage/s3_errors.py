"""What an S3 failure means: worth another try, or a refusal the operator has to fix.

Kept apart from the transfer code in ``s3.py`` because it changes for other reasons: a
provider's new error code or a better hint lands here, a change in how parts are cut and
uploaded lands there. The tenacity retry around a part and every message a person reads
use the same rules, so what is retried and what is reported as permanent cannot drift apart.
Permanent errors (403, no such bucket, bad credentials) are never retried and carry a hint.

Messages: ``where`` is a whole infinitive phrase in the reader's language ("read {key} in
{storage}", built by ``base.describe_action``), and each message here is a sentence
that phrase completes ("storage refused to {where}"). Both halves are translated; the phrase is
one unit, so a language can place the key and the storage where it needs them.
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
from core.i18n import N_, _
from core.redact import redact

_PERMANENT = {
    "AccessDenied": N_(
        "Check the credentials (boto3's chain: env, profile, instance role) and that the "
        "policy allows s3:PutObject, s3:GetObject, s3:ListBucket, s3:DeleteObject and s3:AbortMultipartUpload."
    ),
    "InvalidAccessKeyId": N_(
        "The access key is not known to this endpoint; check AWS_ACCESS_KEY_ID and endpoint_url."
    ),
    "SignatureDoesNotMatch": N_("The secret key is wrong for this access key; check AWS_SECRET_ACCESS_KEY."),
    "NoSuchBucket": N_("Create the bucket or fix [storage] url."),
    "PermanentRedirect": N_("The bucket is in another region; set [storage] region."),
    "AuthorizationHeaderMalformed": N_("The bucket is in another region; set [storage] region."),
    "NotImplemented": N_(
        "The endpoint does not support something asked of it, most often server-side "
        'encryption (MinIO without a KMS, some R2/B2 setups): set [storage] sse = "none" (backups stay '
        "encrypted client-side with AES-256-GCM); `backupbot doctor` says which the endpoint accepts."
    ),
    "PreconditionFailed": N_(
        "An object with this key is already in the bucket and backupbot never overwrites "
        "one (it writes with If-None-Match: *); nothing was replaced. Run the dump again for a new id."
    ),
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
            _("no S3 credentials to {where}").format(where=where),
            detail=_("boto3 found no credentials in the environment, a profile or an instance role."),
            hint=_("Export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)."),
        )
    if denied and (code == "AccessDenied" or http_status(exc) == 403):
        action, _sep, arn = denied.partition(" denied on ")
        return StorageError(
            _("storage refused to {where}: {code} ({action} denied on {arn})").format(
                where=where, code=code or "HTTP 403", action=action, arn=arn
            ),
            detail=redact(str(exc)),
            hint=_(
                "Grant {action} on {arn} to this credential (docs/iam/ has the policy for each role: "
                "the bot, a deploy pipeline, a break-glass reader, the reader of the `[files]` source)."
            ).format(action=action, arn=arn),
        )
    if code in _PERMANENT or http_status(exc) == 403:
        hint = _PERMANENT.get(code, _PERMANENT["AccessDenied"])
        return StorageError(
            _("storage refused to {where}: {code}").format(where=where, code=code or "HTTP 403"),
            detail=redact(str(exc)),
            hint=_(hint),
        )
    if is_transient(exc) or isinstance(exc, BotoCoreError):
        return StorageError(
            _("storage kept failing to {where}").format(where=where),
            detail=_("{error} (after {n} attempts per request)").format(
                error=redact(str(exc)), n=max_attempts
            ),
            hint=_(
                "The storage service is failing or unreachable; check its status, endpoint_url and the network, "
                "then retry."
            ),
        )
    return StorageError(_("storage failed to {where}").format(where=where), detail=redact(str(exc)))
