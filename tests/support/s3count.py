"""A proxy in front of the moto server that counts requests by S3 operation.

What the catalog promises is a number of requests (a warm listing makes LIST requests
and no GET), so the tests and ``bench/bench_catalog.py`` count them on the wire, as the
server sees them, rather than trusting our own code to report what it did.
"""

from __future__ import annotations

import html
import re
import threading
from collections import Counter
from urllib.parse import parse_qs, unquote, urlsplit

from tests.support.s3proxy import S3Proxy

LIST = "LIST"  # ListObjectsV2, with or without a delimiter
GET = "GET"  # GetObject
HEAD = "HEAD"  # HeadObject
PUT = "PUT"
DELETE = "DELETE"  # DeleteObject, one key
DELETE_MANY = "DELETE_MANY"  # DeleteObjects, up to 1,000 keys
LOCK_CONFIG = "LOCK_CONFIG"  # GetObjectLockConfiguration
OTHER = "OTHER"


def operation(command: str, path: str) -> tuple[str, str]:
    """(operation, object key or "") of a path-style S3 request."""
    parts = urlsplit(path)
    query = parse_qs(parts.query, keep_blank_values=True)
    _, _, key = unquote(parts.path).lstrip("/").partition("/")
    if command == "GET" and not key:
        if "list-type" in query:
            return LIST, ""
        if "object-lock" in query:
            return LOCK_CONFIG, ""
        return OTHER, ""
    if command == "POST" and "delete" in query:
        return DELETE_MANY, ""
    if command in ("GET", "HEAD", "PUT", "DELETE") and key and not query.keys() - {"x-id"}:
        return command, key
    return OTHER, key


class CountingProxy(S3Proxy):
    """Forwards everything; ``counts`` by operation, ``log`` in arrival order, since ``reset``."""

    def __init__(self, upstream: str) -> None:
        self._lock = threading.Lock()
        self.log: list[tuple[str, str]] = []
        self.batches: list[list[str]] = []  # the keys of each DeleteObjects request, in order
        super().__init__(upstream)

    def seen(self, command: str, path: str, headers: dict[str, str], body: bytes) -> None:
        op = operation(command, path)
        with self._lock:
            self.log.append(op)
            if op[0] == DELETE_MANY:
                self.batches.append(
                    [html.unescape(k) for k in re.findall(r"<Key>([^<]*)</Key>", body.decode())]
                )

    def reset(self) -> None:
        with self._lock:
            self.log = []
            self.batches = []

    @property
    def counts(self) -> Counter[str]:
        with self._lock:
            return Counter(op for op, _ in self.log)

    def keys(self, op: str) -> list[str]:
        with self._lock:
            return [key for o, key in self.log if o == op]
