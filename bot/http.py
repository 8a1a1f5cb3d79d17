"""Serving the Bolt app over HTTP: ``POST /slack/events``, ``GET /healthz`` and ``GET /metrics``, on waitress.

waitress answers each request from a pool of threads, so fifty people typing at once
are acknowledged in parallel instead of queueing behind each other.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

import waitress
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

EVENTS_PATH = "/slack/events"

# () -> (healthy, report as JSON bytes); () -> Prometheus text
HealthCheck = Callable[[], tuple[bool, bytes]]
MetricsText = Callable[[], bytes]


def wsgi_app(
    app: App, health: HealthCheck | None = None, metrics: MetricsText | None = None
) -> Callable[..., Iterable[bytes]]:
    slack = SlackRequestHandler(app, path=EVENTS_PATH)

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO")
        if path == "/healthz":
            if health is None:
                start_response("200 OK", [("Content-Type", "text/plain")])
                return [b"ok\n"]
            ok, body = health()
            start_response("200 OK" if ok else "503 Service Unavailable", [("Content-Type", "application/json")])
            return [body]
        if path == "/metrics" and metrics is not None:
            from prometheus_client import CONTENT_TYPE_LATEST

            start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST)])
            return [metrics()]
        return slack(environ, start_response)

    return application


def make_server(
    app: App, host: str, port: int, health: HealthCheck | None = None, metrics: MetricsText | None = None
) -> Any:
    """A waitress server (not yet running); ``.run()`` serves, ``.close()`` stops, ``.effective_port``."""
    threads = int(os.environ.get("WEB_THREADS", "16"))
    return waitress.create_server(
        wsgi_app(app, health, metrics), host=host, port=port, threads=threads, ident="backupbot"
    )
