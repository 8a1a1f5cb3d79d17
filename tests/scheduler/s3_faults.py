"""S3 having a bad night: a proxy in front of the moto server that answers 503 to bucket listings.

Everything else (uploads, heads, deletes) is forwarded unchanged, so a nightly dump still
stores a good backup while the retention after it cannot list the bucket. Deletes are
refused another way, by a real bucket policy on the server (``deny_deletes``).
"""

from __future__ import annotations

import json

from tests.support.s3proxy import S3Proxy, s3_error
from tests.support.s3server import S3Server


class ListingOutage(S3Proxy):
    """While ``failing`` is set, every ListObjectsV2 request gets a 503; ``refused`` counts them."""

    def __init__(self, upstream: str) -> None:
        self.failing = False
        self.refused = 0
        super().__init__(upstream)

    def intercept(self, command: str, query: dict[str, list[str]]) -> tuple[int, bytes] | None:
        if command == "GET" and "list-type" in query and self.failing:
            self.refused += 1
            return 503, s3_error("ServiceUnavailable", "injected: please reduce your request rate")
        return None


def deny_deletes(s3: S3Server, bucket: str, prefix: str) -> None:
    """A bucket policy refusing s3:DeleteObject under ``prefix`` — what a tightened IAM policy does."""
    statement = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:DeleteObject",
        "Resource": f"arn:aws:s3:::{bucket}/{prefix}*",
    }
    s3.client().put_bucket_policy(
        Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    )


def allow_deletes(s3: S3Server, bucket: str) -> None:
    s3.client().delete_bucket_policy(Bucket=bucket)
