"""Which IAM action a refused S3 request needed, so a 403 can be fixed without guesswork.

S3 answers every refusal with the same ``AccessDenied``; the policy to change is named by the
IAM action, which is not always the API's name (a HEAD needs ``s3:GetObject``, the parts of a
multipart upload ``s3:PutObject``). The policies in docs/iam/ grant exactly these.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

# botocore operation name -> IAM action it is authorized as
IAM_ACTIONS = {
    "PutObject": "s3:PutObject",
    "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
    "AbortMultipartUpload": "s3:AbortMultipartUpload",
    "GetObject": "s3:GetObject",
    "HeadObject": "s3:GetObject",
    "DeleteObject": "s3:DeleteObject",
    "DeleteObjects": "s3:DeleteObject",
    "ListObjectsV2": "s3:ListBucket",
    "ListObjects": "s3:ListBucket",
    "ListMultipartUploads": "s3:ListBucketMultipartUploads",
    "GetObjectLockConfiguration": "s3:GetBucketObjectLockConfiguration",
    "GetObjectRetention": "s3:GetObjectRetention",
}
_BUCKET_LEVEL = {"ListObjectsV2", "ListObjects", "ListMultipartUploads", "GetObjectLockConfiguration"}


def iam_action(exc: BaseException) -> str:
    """``s3:PutObject`` for a refused PutObject; "" when the request is not one we know."""
    return IAM_ACTIONS.get(getattr(exc, "operation_name", ""), "") if isinstance(exc, ClientError) else ""


def resource(exc: BaseException, bucket: str, full_key: str) -> str:
    """The ARN a policy grants the action on: the bucket for listings, else the object."""
    if getattr(exc, "operation_name", "") in _BUCKET_LEVEL or not full_key:
        return f"arn:aws:s3:::{bucket}"
    return f"arn:aws:s3:::{bucket}/{full_key}"


def denied(exc: BaseException, bucket: str, full_key: str) -> str:
    """``s3:PutObject denied on arn:aws:s3:::bucket/key``, or "" when it was not a refusal we can name."""
    action = iam_action(exc)
    if not action:
        return ""
    return f"{action} denied on {resource(exc, bucket, full_key)}"
