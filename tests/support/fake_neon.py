"""A local fake of the Neon API v2 on a free loopback port, checked against the real spec.

Every request it receives and every response it sends is validated with openapi-core
against ``tests/support/neon/openapi-v2.json`` (Neon's spec, copied from upstream); anything the
spec rejects is recorded in ``validation_errors`` and the ``fake_neon`` fixture fails the
test on teardown. It behaves as API-NOTES.md describes real Neon: mutating calls return
operations that take a few polls to finish, a project with an operation in flight answers
423, a taken branch name 409, the branch limit 422 ``BRANCHES_LIMIT_EXCEEDED``, and knobs
inject faults: 429 with Retry-After every N requests, a POST that creates its branch and
then never answers (the client times out), 423 from a background operation, 503 and an
HTML 524. Branches carry a ``content`` marker (not part of the API) so tests check what a
restore really put where.
"""

from __future__ import annotations

import json
import random
import string
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.fake_neon_api import (
    BASE,
    SPEC_PATH,
    Call,
    NeonBehaviour,
    Op,
    _Error,
    _Req,
    _Resp,
    parse_ts,
    spec,
    ts,
)

__all__ = ["SPEC_PATH", "Call", "FakeNeon", "Op", "parse_ts", "ts"]
_WORDS = ("quiet", "pond", "square", "dawn", "misty", "truth", "silent", "hall", "aged", "salad", "sweet")


class FakeNeon(NeonBehaviour):
    """The fake API. ``url`` is what NEON_API_URL is set to."""

    def __init__(self, api_key: str = "neon-test-key-0123456789") -> None:
        self.api_key = api_key
        self.projects: dict[str, dict[str, Any]] = {}
        self.branches: dict[str, dict[str, dict[str, Any]]] = {}  # pid -> bid -> branch (+ private keys)
        self.annotations: dict[str, dict[str, dict[str, str]]] = {}
        self.snapshots: dict[str, list[dict[str, Any]]] = {}
        self.ops: dict[str, list[Op]] = {}
        self.branch_limit = 10
        self.op_polls = 2  # GETs an operation answers "running" before "finished"
        self.calls: list[Call] = []
        self.validation_errors: list[str] = []
        # fault knobs
        self.throttle_every = 0  # every Nth request answers 429 Retry-After: 1
        self.busy_next = 0  # the next N mutating requests answer 423 (a background operation)
        self.hang_next_create = 0  # the next N branch creations succeed, then the response never comes
        self.hang_next_restore = 0  # the same for branch restores
        self.hang_seconds = 3.0
        self.fail_next_op = ""  # the next operation created fails with this error text
        self.html_524_next = 0  # the next N requests answer Cloudflare's HTML 524
        self.unavailable_next = 0  # the next N requests answer 503
        self.undeletable: set[str] = set()  # branch ids whose delete Neon refuses
        self._n = 0
        self._lock = threading.RLock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                fake._serve(self, raw)

            do_GET = do_POST = do_PATCH = do_DELETE = _any

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}{BASE}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        spec()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # ------------------------------------------------------------------ scene

    def _id(self, prefix: str) -> str:
        word = random.choice(_WORDS) + "-" + random.choice(_WORDS)
        tail = "".join(random.choices(string.ascii_lowercase + string.digits, k=8))
        return f"{prefix}-{word}-{tail}"

    def add_project(
        self, pid: str, *, history_seconds: int = 86400, databases: tuple[str, ...] = ("neondb",)
    ) -> dict[str, Any]:
        now = ts()
        self.projects[pid] = {
            "id": pid,
            "platform_id": "aws",
            "region_id": "aws-eu-central-1",
            "name": pid,
            "pg_version": 17,
            "proxy_host": "eu-central-1.aws.neon.tech",
            "branch_logical_size_limit": 0,
            "branch_logical_size_limit_bytes": 0,
            "store_passwords": True,
            "cpu_used_sec": 0,
            "provisioner": "k8s-neonvm",
            "creation_source": "console",
            "history_retention_seconds": history_seconds,
            "created_at": now,
            "updated_at": now,
            "owner_id": "owner-1",
            "consumption_period_start": now,
            "consumption_period_end": now,
            "active_time_seconds": 0,
            "compute_time_seconds": 0,
            "written_data_bytes": 0,
            "data_transfer_bytes": 0,
            "data_storage_bytes_hour": 0,
        }
        self.branches[pid], self.annotations[pid], self.snapshots[pid], self.ops[pid] = {}, {}, [], []
        main = self._new_branch(pid, "main", None, content="prod-v1", default=True)
        main["_databases"] = list(databases)
        main["logical_size"] = 52_428_800
        return main

    def _new_branch(
        self, pid: str, name: str, parent: dict[str, Any] | None, content: str, default: bool = False
    ) -> dict[str, Any]:
        now = ts()
        b: dict[str, Any] = {
            "id": self._id("br"),
            "project_id": pid,
            "name": name,
            "current_state": "ready",
            "state_changed_at": now,
            "creation_source": "console",
            "created_at": now,
            "updated_at": now,
            "default": default,
            "protected": False,
            "cpu_used_sec": 0,
            "active_time_seconds": 0,
            "compute_time_seconds": 0,
            "written_data_bytes": 0,
            "data_transfer_bytes": 0,
            "init_source": "parent-data",
            "logical_size": parent.get("logical_size", 0) if parent else 0,
            "_content": content,
            "_databases": list(parent.get("_databases", [])) if parent else ["neondb"],
        }
        if parent:
            b["parent_id"] = parent["id"]
            b["parent_lsn"] = "0/1DE2850"
            b["parent_timestamp"] = now
        self.branches[pid][b["id"]] = b
        return b

    def add_snapshot(self, pid: str, name: str, content: str, source: str) -> dict[str, Any]:
        snap = {
            "id": self._id("snap"),
            "name": name,
            "created_at": ts(),
            "timestamp": ts(),
            "source_branch_id": source,
            "manual": True,
            "full_size": 1_048_576,
            "_content": content,
        }
        self.snapshots[pid].append(snap)
        return snap

    def branch_named(self, pid: str, name: str) -> dict[str, Any] | None:
        return next((b for b in self.branches[pid].values() if b["name"] == name), None)

    def calls_to(self, method: str, suffix: str) -> list[Call]:
        return [c for c in self.calls if c.method == method and c.path.endswith(suffix)]

    # ------------------------------------------------------------------ HTTP

    def _serve(self, h: BaseHTTPRequestHandler, raw: bytes) -> None:
        parts = urlsplit(h.path)
        query = parse_qs(parts.query)
        headers = dict(h.headers.items())
        rid = headers.get("X-Request-ID", "")
        path = parts.path
        invalid = ""
        try:
            spec().validate_request(_Req(h.command, path, query, headers, raw))
        except Exception as exc:  # the spec rejects what the client sent: so would Neon (400)
            invalid = str(exc).splitlines()[0][:300]
            if headers.get("Authorization"):  # a missing key is Neon's 401, tested on purpose
                self.validation_errors.append(f"request {h.command} {path}: {exc}")
        rel = path[len(BASE) :] if path.startswith(BASE) else path
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        hang = False
        with self._lock:
            self._n += 1
            if invalid and headers.get("Authorization") == f"Bearer {self.api_key}":
                status, payload, extra = (
                    400,
                    {"request_id": rid, "code": "", "message": f"invalid request: {invalid}"},
                    {},
                )
            else:
                status, payload, extra = self._answer(h.command, rel, query, headers, body, rid)
            if isinstance(payload, dict) and payload.pop("_hang", False):
                hang = True
        self.calls.append(Call(h.command, rel, query, body, status, rid))
        if hang:  # the work is done; the answer never arrives
            time.sleep(self.hang_seconds)
            h.close_connection = True
            return
        if isinstance(payload, bytes):  # Cloudflare's HTML page
            data, ctype = payload, "text/html"
        else:
            data, ctype = (json.dumps(payload).encode() if payload is not None else b""), "application/json"
            try:
                spec().validate_response(
                    _Req(h.command, path, query, headers, raw), _Resp(status, data or b"", ctype)
                )
            except Exception as exc:
                self.validation_errors.append(f"response {status} to {h.command} {path}: {exc}")
        h.send_response(status)
        if data:
            h.send_header("Content-Type", ctype)
        for k, v in extra.items():
            h.send_header(k, v)
        h.send_header("X-Neon-Ret-Request-Id", rid or "none")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def _answer(
        self, method: str, rel: str, query: dict[str, list[str]], headers: dict[str, str], body: Any, rid: str
    ) -> tuple[int, Any, dict[str, str]]:
        if headers.get("Authorization") != f"Bearer {self.api_key}":
            return 401, {"request_id": rid, "code": "", "message": "authentication required"}, {}
        if self.html_524_next:
            self.html_524_next -= 1
            return 524, b"<html><body>A timeout occurred (Cloudflare)</body></html>", {}
        if self.unavailable_next:
            self.unavailable_next -= 1
            return 503, {"request_id": rid, "code": "", "message": "service unavailable"}, {}
        if self.throttle_every and self._n % self.throttle_every == 0:
            return 429, {"request_id": rid, "code": "", "message": "Too many requests"}, {"Retry-After": "1"}
        try:
            status, payload = self._route(method, rel.strip("/").split("/"), query, body)
        except _Error as err:
            return err.status, {"request_id": rid, "code": err.code, "message": err.message}, {}
        return status, payload, {}
