"""A local fake of the Slack Web API (and of response_url endpoints) on a free loopback port.

Every request is recorded with its parsed body, so tests assert what a person would
see in the channel: ``messages(channel)`` replays postMessage and update calls into
each message's current text. ``rate_limit(...)`` makes it answer 429 with Retry-After
for a while, as Slack does under load.

It refuses what real Slack refuses (``invalid_blocks``): Block Kit past Slack's
documented limits (3,000 characters per section text, 2,000 per field and at most 10
fields, 150 for a header, 75 for a button, 50 blocks, 10 context elements, …), an empty
text object, a message with neither text nor blocks. Every refusal is recorded, and
``stop()`` fails the test that caused one unless it said it expects them
(``refusals_expected``): a message real Slack would refuse fails a test.
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
        self.refused: list[tuple[str, list[str]]] = []  # (method, what Slack would say)
        self.refusals_expected = False
        self._refuse_blocks = 0
        self._down_status: int | None = None
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
        if self.refused and not self.refusals_expected:
            raise AssertionError(f"real Slack would have refused these messages: {self.refused}")

    def refuse_blocks(self, count: int) -> None:
        """Refuse the next ``count`` messages with blocks as ``invalid_blocks`` (a limit we did not know)."""
        with self._lock:
            self._refuse_blocks = count
            self.refusals_expected = True

    # ------------------------------------------------------------- behaviour

    def rate_limit(self, seconds: float = 0.0, count: int = 0, retry_after: int = 1) -> None:
        """Answer 429 (Retry-After: retry_after) to API calls for ``seconds`` or the next ``count`` calls."""
        with self._lock:
            self._limited_until = time.monotonic() + seconds if seconds else 0.0
            self._limited_count = count
            self._retry_after = retry_after

    def down(self, status: int | None) -> None:
        """Answer every API call with ``status`` (503: Slack's API is down) until ``down(None)``."""
        with self._lock:
            self._down_status = status

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
        with self._lock:
            down = self._down_status
        if down is not None:
            call.status = down
            with self._lock:
                self.calls.append(call)
                self.rejected += 1
            return down, {"ok": False, "error": "service_unavailable"}, {}
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
        if method in ("chat.postMessage", "chat.update"):
            problems = message_problems(params)
            if not problems and _blocks(params) and self._refuse_blocks > 0:
                self._refuse_blocks -= 1
                problems = ["refused on purpose by the test"]
            if problems:
                self.refused.append((method, problems))
                error = "no_text" if problems == ["no_text"] else "invalid_blocks"
                return {"ok": False, "error": error, "errors": problems}
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


_LIMITS = {
    "section": 3000,
    "field": 2000,
    "fields": 10,
    "header": 150,
    "context_elements": 10,
    "context_text": 3000,
    "actions_elements": 25,
    "button": 75,
    "button_value": 2000,
    "action_id": 255,
    "block_id": 255,
    "confirm_title": 100,
    "confirm_text": 300,
    "confirm_button": 30,
    "blocks": 50,
}


def _text_object(obj: Any, limit: int, where: str, problems: list[str]) -> None:
    if not isinstance(obj, dict) or obj.get("type") not in ("mrkdwn", "plain_text"):
        problems.append(f"{where}: not a text object")
        return
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        problems.append(f"{where}: empty text")
    elif len(text) > limit:
        problems.append(f"{where}: {len(text)} characters, more than {limit}")


def message_problems(params: dict[str, Any]) -> list[str]:
    """What real Slack would refuse in a chat.postMessage / chat.update, by its documented limits."""
    blocks = _blocks(params)
    if not blocks:
        return [] if params.get("text") else ["no_text"]
    problems: list[str] = []
    if not isinstance(blocks, list):
        return ["blocks: not a list"]
    if len(blocks) > _LIMITS["blocks"]:
        problems.append(f"{len(blocks)} blocks, more than {_LIMITS['blocks']}")
    for i, block in enumerate(blocks):
        where = f"blocks[{i}]"
        if not isinstance(block, dict):
            problems.append(f"{where}: not an object")
            continue
        if len(str(block.get("block_id", ""))) > _LIMITS["block_id"]:
            problems.append(f"{where}.block_id too long")
        kind = block.get("type")
        if kind == "section":
            if "text" not in block and "fields" not in block:
                problems.append(f"{where}: section without text or fields")
            if "text" in block:
                _text_object(block["text"], _LIMITS["section"], f"{where}.text", problems)
            fields = block.get("fields", [])
            if len(fields) > _LIMITS["fields"]:
                problems.append(f"{where}: {len(fields)} fields, more than {_LIMITS['fields']}")
            for j, field_ in enumerate(fields):
                _text_object(field_, _LIMITS["field"], f"{where}.fields[{j}]", problems)
        elif kind == "header":
            _text_object(block.get("text"), _LIMITS["header"], f"{where}.text", problems)
        elif kind == "context":
            elements = block.get("elements") or []
            if not 1 <= len(elements) <= _LIMITS["context_elements"]:
                problems.append(f"{where}: {len(elements)} context elements")
            for j, el in enumerate(elements):
                _text_object(el, _LIMITS["context_text"], f"{where}.elements[{j}]", problems)
        elif kind == "actions":
            elements = block.get("elements") or []
            if not 1 <= len(elements) <= _LIMITS["actions_elements"]:
                problems.append(f"{where}: {len(elements)} action elements")
            for j, el in enumerate(elements):
                at = f"{where}.elements[{j}]"
                _text_object(el.get("text"), _LIMITS["button"], f"{at}.text", problems)
                if len(str(el.get("value", ""))) > _LIMITS["button_value"]:
                    problems.append(f"{at}.value too long")
                if len(str(el.get("action_id", ""))) > _LIMITS["action_id"]:
                    problems.append(f"{at}.action_id too long")
                confirm = el.get("confirm")
                if confirm is not None:
                    _text_object(
                        confirm.get("title"), _LIMITS["confirm_title"], f"{at}.confirm.title", problems
                    )
                    _text_object(confirm.get("text"), _LIMITS["confirm_text"], f"{at}.confirm.text", problems)
                    for key in ("confirm", "deny"):
                        _text_object(
                            confirm.get(key), _LIMITS["confirm_button"], f"{at}.confirm.{key}", problems
                        )
        elif kind not in ("divider", "image", "rich_text", "markdown"):
            problems.append(f"{where}: unknown block type {kind!r}")
    return problems


def _blocks(params: dict[str, Any]) -> Any:
    blocks = params.get("blocks")
    return json.loads(blocks) if isinstance(blocks, str) else blocks
