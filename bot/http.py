"""Serving the Bolt app over HTTP: ``POST /slack/events``, ``GET /healthz`` and ``GET /metrics``, on waitress.

waitress answers each request from a pool of threads, so fifty people typing at once
are acknowledged in parallel instead of queueing behind each other. Every request to
``/slack/events`` passes ``bot.guard`` first (size, timestamp, signature, replay).
"""

from __future__ import annotations

import io
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import waitress
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

from bot.guard import MAX_BODY, RequestGuard, Verdict
from core.i18n import N_, _

EVENTS_PATH = "/slack/events"
log = logging.getLogger(__name__)

UNREADABLE = N_(":warning: backupbot could not read that request; nothing was done.")
UNHANDLED = N_(":warning: backupbot does not handle that request; nothing was done.")
_STATUS = {200: "200 OK", 401: "401 Unauthorized", 413: "413 Payload Too Large"}

# () -> (healthy, report as JSON bytes); () -> Prometheus text
HealthCheck = Callable[[], tuple[bool, bytes]]
MetricsText = Callable[[], bytes]


def _answer(start_response: Callable[..., Any], status: int, body: dict[str, str]) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(
        _STATUS.get(status, f"{status} Error"),
        [("Content-Type", "application/json"), ("Content-Length", str(len(data)))],
    )
    return [data]


class RefusalLog:
    """Refused requests in the log: the first at once, then one line a minute with the counts.

    Anyone can send requests, so one log line per request would still let them fill the
    disk; and a line never carries the body, only why it was refused.
    """

    def __init__(self, every: float = 60.0) -> None:
        self.every = every
        self._counts: dict[str, int] = {}
        self._next = 0.0
        self._lock = threading.Lock()

    def note(self, verdict: Verdict) -> None:
        key = f"{verdict.status} {verdict.reason}"
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + 1
            now = time.monotonic()
            if now < self._next:
                return
            counts, self._counts, self._next = self._counts, {}, now + self.every
        log.info("refused requests: %s", ", ".join(f"{n} × {k}" for k, n in sorted(counts.items())))


def wsgi_app(
    app: App,
    health: HealthCheck | None = None,
    metrics: MetricsText | None = None,
    guard: RequestGuard | None = None,
) -> Callable[..., Iterable[bytes]]:
    slack = SlackRequestHandler(app, path=EVENTS_PATH)
    refused = RefusalLog()

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO")
        if path == "/healthz":
            if health is None:
                start_response("200 OK", [("Content-Type", "text/plain")])
                return [b"ok\n"]
            ok, body = health()
            start_response(
                "200 OK" if ok else "503 Service Unavailable", [("Content-Type", "application/json")]
            )
            return [body]
        if path == "/metrics" and metrics is not None:
            from prometheus_client import CONTENT_TYPE_LATEST

            start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST)])
            return [metrics()]
        if guard is None or path != EVENTS_PATH:
            return slack(environ, start_response)
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            refused.note(Verdict(413, "body too large"))
            return _answer(start_response, 413, {"error": "request too large"})
        body = environ["wsgi.input"].read(length) if length else b""
        verdict = guard.check(
            body,
            str(environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", "")),
            str(environ.get("HTTP_X_SLACK_SIGNATURE", "")),
        )
        if not verdict.forward:
            refused.note(verdict)
            return _answer(
                start_response, verdict.status, {} if verdict.status == 200 else {"error": "invalid request"}
            )
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        answered: list[Any] = []
        try:
            out = slack(environ, lambda status, headers, exc_info=None: answered.append((status, headers)))
        except Exception as exc:  # a signed body Bolt cannot read (not UTF-8, broken JSON)
            log.warning("could not read a signed request (%s); nothing was done", type(exc).__name__)
            return _answer(start_response, 200, {"response_type": "ephemeral", "text": _(UNREADABLE)})
        status, headers = answered[0]
        if status.startswith("404"):
            # Signed, so from Slack, but nothing here handles it (a button of an older version,
            # another app's command): Slack shows an error for anything but 200, so acknowledge.
            log.info("acknowledged a Slack request no listener handles")
            return _answer(start_response, 200, {"response_type": "ephemeral", "text": _(UNHANDLED)})
        start_response(status, headers)
        return out

    return application


def make_server(
    app: App,
    host: str,
    port: int,
    health: HealthCheck | None = None,
    metrics: MetricsText | None = None,
    guard: RequestGuard | None = None,
) -> Any:
    """A waitress server (not yet running); ``.run()`` serves, ``.close()`` stops, ``.effective_port``."""
    threads = int(os.environ.get("WEB_THREADS", "16"))
    return waitress.create_server(
        wsgi_app(app, health, metrics, guard),
        host=host,
        port=port,
        threads=threads,
        ident="backupbot",
        max_request_body_size=MAX_BODY,  # waitress itself answers 413 past this
    )
