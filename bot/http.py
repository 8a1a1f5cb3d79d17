"""Serving the Bolt app over HTTP: ``POST /slack/events`` and ``GET /healthz``, on waitress.

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


def wsgi_app(app: App) -> Callable[..., Iterable[bytes]]:
    slack = SlackRequestHandler(app, path=EVENTS_PATH)

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/healthz":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok\n"]
        return slack(environ, start_response)

    return application


def make_server(app: App, host: str, port: int) -> Any:
    """A waitress server (not yet running); ``.run()`` serves, ``.close()`` stops, ``.effective_port``."""
    threads = int(os.environ.get("WEB_THREADS", "16"))
    return waitress.create_server(wsgi_app(app), host=host, port=port, threads=threads, ident="backupbot")
