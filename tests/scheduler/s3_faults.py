"""S3 having a bad night: a proxy in front of the moto server that answers 503 to bucket listings.

Everything else (uploads, heads, deletes) is forwarded unchanged, so a nightly dump still
stores a good backup while the retention after it cannot list the bucket. Deletes are
refused another way, by a real bucket policy on the server (``deny_deletes``).
"""

from __future__ import annotations

import http.client
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.s3server import S3Server

_SLOW_DOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>ServiceUnavailable</Code>'
    b"<Message>injected: please reduce your request rate</Message></Error>"
)


class ListingOutage:
    """While ``failing`` is set, every ListObjectsV2 request gets a 503; ``refused`` counts them."""

    def __init__(self, upstream: str) -> None:
        self.upstream = urlsplit(upstream)
        self.failing = False
        self.refused = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                listing = self.command == "GET" and "list-type" in parse_qs(urlsplit(self.path).query)
                if listing and proxy.failing:
                    proxy.refused += 1
                    self._send(503, [("Content-Type", "application/xml")], _SLOW_DOWN)
                    return
                conn = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                # A HEAD answer keeps the object's Content-Length: the dump checks the stored size.
                skip = ("connection", "transfer-encoding") + (
                    () if self.command == "HEAD" else ("content-length",)
                )
                self._send(resp.status, [(k, v) for k, v in resp.getheaders() if k.lower() not in skip], data)
                conn.close()

            def _send(self, status: int, headers: list[tuple[str, str]], data: bytes) -> None:
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                if self.command != "HEAD":
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.endpoint_url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


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
