"""A small HTTP proxy in front of the moto server that can answer some requests itself.

Fault tests need S3 to fail in specific ways (500 on UploadPart, 503 on listings) while
everything else reaches the real server unchanged, so aborts, completes and heads behave as
they would. Subclasses decide per request in ``intercept``; the forwarding lives here once.
"""

from __future__ import annotations

import http.client
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

# What ``intercept`` returns to drop the connection without an answer (a reset mid-request).
DROP = (0, b"")


def s3_error(code: str, message: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
        f"<Message>{message}</Message></Error>"
    ).encode()


class S3Proxy:
    """Forwards every request to ``upstream`` unless ``intercept`` returns (status, XML body)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = urlsplit(upstream)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                proxy.seen(self.command, self.path, dict(self.headers.items()), body)
                answer = proxy.intercept_request(
                    self.command,
                    parse_qs(urlsplit(self.path).query),
                    {k.lower(): v for k, v in self.headers.items()},
                )
                if answer == DROP:
                    # No answer at all: the client sees the connection closed under it.
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if answer is not None:
                    self._send(answer[0], [("Content-Type", "application/xml")], answer[1])
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

    def seen(self, command: str, path: str, headers: dict[str, str], body: bytes) -> None:
        """Called for every request before ``intercept``; counting proxies record it here."""

    def intercept(self, command: str, query: dict[str, list[str]]) -> tuple[int, bytes] | None:
        return None

    def intercept_request(
        self, command: str, query: dict[str, list[str]], headers: dict[str, str]
    ) -> tuple[int, bytes] | None:
        """Like ``intercept``, for proxies that decide on the request's headers too."""
        return self.intercept(command, query)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
