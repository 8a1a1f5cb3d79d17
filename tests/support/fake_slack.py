"""A local fake of the Slack Web API (and of response_url endpoints) on a free loopback port.

Every request is recorded with its parsed body, so tests assert what a person would
see in the channel: ``messages(channel)`` replays postMessage and update calls into
each message's current text. ``rate_limit(...)`` makes it answer 429 with Retry-After
for a while, as Slack does under load.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

# The bot scopes manifest.yml asks for; a fake workspace installed from it has these.
SCOPES = ("commands", "chat:write", "chat:write.public", "usergroups:read")


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    at: float
    status: int = 200


@dataclass
class Message:
    channel: str
    ts: str
    text: str
    blocks: Any = None
    thread_ts: str | None = None
    edits: list[str] = field(default_factory=list)  # every text it had, in order


class FakeSlack:
    def __init__(
        self, group_members: dict[str, list[str]] | None = None, scopes: tuple[str, ...] | None = None
    ) -> None:
        self.group_members = group_members or {}
        # what auth.test reports in its x-oauth-scopes header, as real Slack does
        self.scopes = list(scopes if scopes is not None else SCOPES)
        self.calls: list[Call] = []
        self.responses: dict[str, list[dict[str, Any]]] = {}
        self._messages: dict[str, Message] = {}
        self._ts = 1700000000.0
        self._lock = threading.Lock()
        self._limited_until = 0.0
        self._limited_count = 0
        self._retry_after = 1
        self.rejected = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._handle(b"")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self._handle(self.rfile.read(length))

            def _handle(self, raw: bytes) -> None:
                parts = urlsplit(self.path)
                params: dict[str, Any] = {k: v[0] for k, v in parse_qs(parts.query).items()}
                ctype = self.headers.get("Content-Type", "")
                if raw:
                    if "json" in ctype:
                        params.update(json.loads(raw))
                    else:
                        params.update({k: v[0] for k, v in parse_qs(raw.decode()).items()})
                status, body, headers = fake._dispatch(parts.path, params, dict(self.headers.items()))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    # ------------------------------------------------------------- addresses

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/response/{name}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # ------------------------------------------------------------- behaviour

    def rate_limit(self, seconds: float = 0.0, count: int = 0, retry_after: int = 1) -> None:
        """Answer 429 (Retry-After: retry_after) to API calls for ``seconds`` or the next ``count`` calls."""
        with self._lock:
            self._limited_until = time.monotonic() + seconds if seconds else 0.0
            self._limited_count = count
            self._retry_after = retry_after

    def _limited(self) -> bool:
        with self._lock:
            if self._limited_count > 0:
                self._limited_count -= 1
                return True
            return time.monotonic() < self._limited_until

    def _dispatch(
        self, path: str, params: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        if path.startswith("/response/"):
            with self._lock:
                self.responses.setdefault(path.rsplit("/", 1)[1], []).append(params)
            return 200, {"ok": True}, {}
        method = path.removeprefix("/api/")
        call = Call(method, params, headers, time.monotonic())
        if self._limited():
            call.status = 429
            with self._lock:
                self.calls.append(call)
                self.rejected += 1
            return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(self._retry_after)}
        with self._lock:
            self.calls.append(call)
            headers = {"x-oauth-scopes": ",".join(self.scopes)} if method == "auth.test" else {}
            return 200, self._answer(method, params), headers

    def _answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {
                "ok": True,
                "user_id": "UBOT",
                "bot_id": "BBOT",
                "team_id": "T1",
                "url": "https://fake.slack/",
            }
        if method == "chat.postMessage":
            self._ts += 1
            ts = f"{self._ts:.6f}"
            channel = str(params.get("channel"))
            msg = Message(channel, ts, str(params.get("text", "")), _blocks(params), params.get("thread_ts"))
            msg.edits.append(msg.text)
            self._messages[ts] = msg
            return {"ok": True, "channel": channel, "ts": ts, "message": {"text": msg.text}}
        if method == "chat.update":
            msg = self._messages.get(str(params.get("ts")))
            if msg is None:
                return {"ok": False, "error": "message_not_found"}
            msg.text = str(params.get("text", ""))
            msg.blocks = _blocks(params)
            msg.edits.append(msg.text)
            return {"ok": True, "channel": msg.channel, "ts": msg.ts}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": f"{self._ts:.6f}"}
        if method == "usergroups.users.list":
            group = str(params.get("usergroup"))
            if group not in self.group_members:
                return {"ok": False, "error": "no_such_subteam"}
            return {"ok": True, "users": self.group_members[group]}
        return {"ok": True}

    # --------------------------------------------------------------- reading

    def api_calls(self, method: str | None = None) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if method is None or c.method == method]

    def messages(self, channel: str | None = None, threads: bool = False) -> list[Message]:
        """Messages as they look now, oldest first; thread replies only with ``threads``."""
        with self._lock:
            msgs = sorted(self._messages.values(), key=lambda m: float(m.ts))
        return [
            m for m in msgs if (channel is None or m.channel == channel) and (threads or m.thread_ts is None)
        ]

    def thread(self, ts: str) -> list[Message]:
        return [m for m in self.messages(threads=True) if m.thread_ts == ts]

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError(
            f"fake Slack: {what} not met within {timeout} s; calls: {[c.method for c in self.api_calls()]}"
        )


def _blocks(params: dict[str, Any]) -> Any:
    blocks = params.get("blocks")
    return json.loads(blocks) if isinstance(blocks, str) else blocks
