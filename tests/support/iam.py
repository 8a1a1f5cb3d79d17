"""A second moto server with IAM enforcement on, and one IAM user per shipped policy.

The shared S3 server stays unauthenticated for every other test. Here the bucket, the users,
their access keys and their policies (docs/iam/*.json with BUCKET and PREFIX filled in, not
edited otherwise) are created first; then moto's ``/moto-api/reset-auth`` sets the number of
unauthenticated requests still allowed to 0, so from then on every request is checked against
the signing user's policies: action and resource. moto does not evaluate policy conditions
(``s3:prefix``, ``s3:if-none-match``, ``s3:ObjectCreationOperation``): a statement's Condition
block is taken as met, so what those add is proved by AWS, not here (the README says how).

moto also names the action of a request after its API operation (``s3:ListObjectsV2``,
``s3:HeadObject``, ``s3:CreateMultipartUpload``) where AWS uses the IAM action (``s3:ListBucket``,
``s3:GetObject``, ``s3:PutObject``). Each statement of a shipped policy is therefore given to
moto with its IAM actions plus the operations they authorize, from the table the product names
refusals with (``adapters.storage.s3_actions.IAM_ACTIONS``). An operation missing from that
table is refused here, so the table has to cover every call the code makes.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import requests

from adapters.storage.s3_actions import IAM_ACTIONS
from tests.support.s3server import S3Server, start_s3_server

POLICIES = Path(__file__).resolve().parents[2] / "docs" / "iam"
PREFIX = "bb"
APP_PREFIX = "prod"  # the prefix of `[files] source_url` in the app's bucket
ADMIN_POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def policy_text(role: str, bucket: str, prefix: str = PREFIX) -> str:
    """The shipped policy file for ``role`` with the bucket and prefix of this deployment."""
    return (POLICIES / f"{role}.json").read_text().replace("BUCKET", bucket).replace("PREFIX", prefix)


def as_moto_checks_it(text: str) -> str:
    """The policy with each IAM action widened to the API operations it authorizes on AWS."""
    operations: dict[str, list[str]] = {}
    for operation, action in IAM_ACTIONS.items():
        operations.setdefault(action, []).append(f"s3:{operation}")
    policy = json.loads(text)
    for statement in policy["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        widened = list(actions)
        for action in actions:
            widened += [op for op in operations.get(action, []) if op not in widened]
        statement["Action"] = widened
    # moto authorizes a DeleteObjects batch as one request on the bucket, where AWS checks
    # s3:DeleteObject for each key: a statement allowing that action on objects also allows
    # the batch on their bucket here (an explicit Deny of it still refuses the batch).
    extra = []
    for statement in policy["Statement"]:
        if statement.get("Effect") == "Allow" and "s3:DeleteObject" in statement["Action"]:
            resources = (
                statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            )
            buckets = sorted({r.split("/", 1)[0] for r in resources})
            extra.append({"Effect": "Allow", "Action": ["s3:DeleteObjects"], "Resource": buckets})
    policy["Statement"] += extra
    return json.dumps(policy)


@dataclass
class Credential:
    access_key_id: str
    secret_access_key: str

    def env(self) -> dict[str, str]:
        return {"AWS_ACCESS_KEY_ID": self.access_key_id, "AWS_SECRET_ACCESS_KEY": self.secret_access_key}


@dataclass
class IAMServer:
    s3: S3Server
    bucket: str
    users: dict[str, Credential] = field(default_factory=dict)
    app_bucket: str = ""  # the application's own bucket, which `[files]` reads

    @property
    def endpoint_url(self) -> str:
        return self.s3.endpoint_url

    def client(self, role: str = "admin") -> Any:
        cred = self.users[role]
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id=cred.access_key_id,
            aws_secret_access_key=cred.secret_access_key,
        )

    def keys(self, prefix: str = PREFIX + "/") -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def start_iam_server(
    roles: tuple[str, ...] = ("bot", "pipeline", "reader"),
    app_roles: tuple[str, ...] = ("files-source-reader",),
) -> IAMServer:
    """Roles in ``roles`` get their policy on the backup bucket; ``app_roles`` theirs on the app's bucket."""
    s3 = start_s3_server()
    bucket = s3.new_bucket(object_lock=True)  # so the bot policy is tried with Object Lock too
    iam = boto3.client(
        "iam",
        endpoint_url=s3.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    server = IAMServer(s3, bucket, app_bucket=s3.new_bucket() if app_roles else "")
    for role in ("admin", *roles, *app_roles):
        name = f"backupbot-{role}-{uuid.uuid4().hex[:6]}"
        iam.create_user(UserName=name)
        if role == "admin":
            text = json.dumps(ADMIN_POLICY)
        elif role in app_roles:
            text = as_moto_checks_it(policy_text(role, server.app_bucket, APP_PREFIX))
        else:
            text = as_moto_checks_it(policy_text(role, bucket))
        iam.put_user_policy(UserName=name, PolicyName=f"backupbot-{role}", PolicyDocument=text)
        key = iam.create_access_key(UserName=name)["AccessKey"]
        server.users[role] = Credential(key["AccessKeyId"], key["SecretAccessKey"])
    resp = requests.post(f"{s3.endpoint_url}/moto-api/reset-auth", data=b"0", timeout=10)
    resp.raise_for_status()
    return server
