"""The fake Neon API's behaviour: what each call does to the fake project, as API-NOTES.md says
real Neon does, plus the spec and the request / response shapes openapi-core checks.

``NeonBehaviour`` is the routing and the state changes; ``tests.support.fake_neon.FakeNeon``
adds the HTTP server, the validation of every exchange and the scene helpers.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

REPO = Path(__file__).resolve().parents[2]
# Neon's published spec, copied byte for byte into the repository (neon/SOURCE.md says from where),
# so the tests need nothing beside the checkout.
SPEC_PATH = Path(__file__).resolve().parent / "neon" / "openapi-v2.json"
BASE = "/api/v2"
IN_FLIGHT = ("scheduling", "running", "cancelling")

_api: OpenAPI | None = None
_api_lock = threading.Lock()


def spec() -> OpenAPI:
    global _api
    with _api_lock:
        if _api is None:
            _api = OpenAPI.from_file_path(str(SPEC_PATH))
        return _api


def ts(at: datetime | None = None) -> str:
    return (at or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


class _Req:
    """An openapi-core request as the real API host would see it."""

    def __init__(
        self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str], body: bytes
    ):
        self.method = method.lower()
        self.host_url = "https://console.neon.tech"
        self.path = path
        self.parameters = RequestParameters(
            query=ImmutableMultiDict([(k, v) for k, vs in query.items() for v in vs]),
            header=Headers(list(headers.items())),
            cookie=ImmutableMultiDict(),
        )
        self.body = body or None
        self.content_type = headers.get("Content-Type", "application/json").lower()


class _Resp:
    def __init__(self, status: int, data: bytes, content_type: str = "application/json"):
        self.status_code = status
        self.data = data
        self.content_type = content_type
        self.headers = Headers({"Content-Type": content_type})


@dataclass
class Call:
    method: str
    path: str  # without /api/v2
    query: dict[str, list[str]]
    body: Any
    status: int
    request_id: str


@dataclass
class Op:
    id: str
    project_id: str
    action: str
    branch_id: str
    polls_left: int
    fail: str = ""
    status: str = "running"
    created: str = field(default_factory=ts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "project_id": self.project_id,
            "branch_id": self.branch_id,
            "action": self.action,
            "status": self.status,
            "failures_count": 1 if self.status == "failed" else 0,
            "created_at": self.created,
            "updated_at": ts(),
            "total_duration_ms": 0,
            **({"error": self.fail} if self.status == "failed" else {}),
        }


class _Error(Exception):
    def __init__(self, status: int, message: str, code: str = "") -> None:
        self.status, self.message, self.code = status, message, code


class NeonBehaviour:
    """Routes and state changes; the attributes are set up by ``FakeNeon.__init__``."""

    projects: dict[str, dict[str, Any]]
    branches: dict[str, dict[str, dict[str, Any]]]
    annotations: dict[str, dict[str, dict[str, str]]]
    snapshots: dict[str, list[dict[str, Any]]]
    ops: dict[str, list[Op]]
    branch_limit: int
    op_polls: int
    busy_next: int
    hang_next_create: int
    hang_next_restore: int
    fail_next_op: str
    undeletable: set[str]

    def _id(self, prefix: str) -> str:
        raise NotImplementedError

    def _new_branch(
        self, pid: str, name: str, parent: dict[str, Any] | None, content: str, default: bool = False
    ) -> dict[str, Any]:
        raise NotImplementedError

    def branch_named(self, pid: str, name: str) -> dict[str, Any] | None:
        raise NotImplementedError

    def _project(self, pid: str) -> str:
        if pid not in self.projects:
            raise _Error(404, f"project not found: {pid}")
        return pid

    def _branch(self, pid: str, bid: str) -> dict[str, Any]:
        b = self.branches[pid].get(bid)
        if b is None:
            raise _Error(404, "branch not found")
        return b

    @staticmethod
    def _public(b: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in b.items() if not k.startswith("_")}

    def _in_flight(self, pid: str) -> list[Op]:
        return [o for o in self.ops[pid] if o.status in IN_FLIGHT]

    def _check_unlocked(self, pid: str) -> None:
        if self.busy_next:
            self.busy_next -= 1
            raise _Error(
                423,
                "project already has running conflicting operations, scheduling of new ones is prohibited",
            )
        if self._in_flight(pid):
            raise _Error(
                423,
                "project already has running conflicting operations, scheduling of new ones is prohibited",
            )

    def _op(self, pid: str, action: str, bid: str) -> Op:
        op = Op(id=str(uuid.uuid4()), project_id=pid, action=action, branch_id=bid, polls_left=self.op_polls)
        if self.fail_next_op:
            op.fail, self.fail_next_op = self.fail_next_op, ""
        self.ops[pid].append(op)
        return op

    def _poll(self, op: Op) -> None:
        if op.status not in IN_FLIGHT:
            return
        if op.polls_left > 0:
            op.polls_left -= 1
            return
        op.status = "failed" if op.fail else "finished"
        for b in self.branches[op.project_id].values():
            if b["id"] == op.branch_id and b.get("current_state") in ("init", "resetting"):
                b["current_state"] = "ready"
                b.pop("pending_state", None)

    def _window(self, pid: str, stamp: str) -> None:
        at = parse_ts(stamp)
        now = datetime.now(UTC)
        start = now - timedelta(seconds=self.projects[pid]["history_retention_seconds"])
        if at < start or at > now + timedelta(seconds=5):
            raise _Error(
                400, f"timestamp {stamp} is outside the project's history window ({ts(start)} .. {ts(now)})"
            )

    def _route(self, method: str, seg: list[str], query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        if len(seg) < 2 or seg[0] != "projects":
            raise _Error(404, "not found")
        pid = self._project(seg[1])
        rest = seg[2:]
        if method == "GET" and rest == []:
            return 200, {"project": self.projects[pid]}
        if rest[:1] == ["operations"]:
            if len(rest) == 2:
                op = next((o for o in self.ops[pid] if o.id == rest[1]), None)
                if op is None:
                    raise _Error(404, "operation not found")
                self._poll(op)
                return 200, {"operation": op.as_dict()}
            for op in self.ops[pid]:
                self._poll(op)
            ops = sorted(self.ops[pid], key=lambda o: o.created, reverse=True)
            return 200, {"operations": [o.as_dict() for o in ops], "pagination": {"cursor": ts()}}
        if rest[:1] == ["snapshots"]:
            if method == "GET" and len(rest) == 1:
                return 200, {"snapshots": [self._public(s) for s in self.snapshots[pid]]}
            if method == "POST" and len(rest) == 3 and rest[2] == "restore":
                return self._restore_snapshot(pid, rest[1], body or {})
        if rest[:1] == ["branches"]:
            if len(rest) == 1 and method == "GET":
                search = (query.get("search") or [""])[0]
                found = [b for b in self.branches[pid].values() if search in b["name"] or search in b["id"]]
                annotations = {
                    bid: self._annotation(bid, v)
                    for bid, v in self.annotations[pid].items()
                    if any(b["id"] == bid for b in found)
                }
                return 200, {"branches": [self._public(b) for b in found], "annotations": annotations}
            if len(rest) == 1 and method == "POST":
                return self._create(pid, body or {})
            if len(rest) == 2 and rest[1] == "count":
                return 200, {"count": len(self.branches[pid])}
            b = self._branch(pid, rest[1])
            if len(rest) == 2 and method == "GET":
                # the spec marks ``annotation`` required here (API-NOTES calls it optional): an empty one
                note = self.annotations[pid].get(b["id"], {})
                return 200, {"branch": self._public(b), "annotation": self._annotation(b["id"], note)}
            if len(rest) == 2 and method == "DELETE":
                return self._delete(pid, b)
            if len(rest) == 2 and method == "PATCH":
                self._check_unlocked(pid)
                patch = (body or {}).get("branch", {})
                for key in ("name", "protected", "expires_at"):
                    if key in patch:
                        b[key] = patch[key]
                        if patch[key] is None:
                            b.pop(key)
                return 200, {"branch": self._public(b), "operations": []}
            if len(rest) == 3 and rest[2] == "databases":
                now = ts()
                dbs = [
                    {
                        "id": i + 1,
                        "branch_id": b["id"],
                        "name": n,
                        "owner_name": "app",
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i, n in enumerate(b["_databases"])
                ]
                return 200, {"databases": dbs}
            if len(rest) == 3 and rest[2] == "restore" and method == "POST":
                return self._restore(pid, b, body or {})
            if len(rest) == 3 and rest[2] == "finalize_restore" and method == "POST":
                return self._finalize(pid, b, (body or {}).get("name"))
        raise _Error(404, "not found")

    @staticmethod
    def _annotation(bid: str, value: dict[str, str]) -> dict[str, Any]:
        return {
            "object": {"type": "console/branch", "id": bid},
            "value": value,
            "created_at": ts(),
            "updated_at": ts(),
        }

    def _name_free(self, pid: str, name: str) -> None:
        if self.branch_named(pid, name):
            raise _Error(409, f'branch already exists; branch_name:"{name}"')

    def _room(self, pid: str) -> None:
        if len(self.branches[pid]) >= self.branch_limit:
            raise _Error(
                422,
                f"branches limit exceeded: the project has {len(self.branches[pid])} of {self.branch_limit} branches",
                code="BRANCHES_LIMIT_EXCEEDED",
            )

    def _create(self, pid: str, body: dict[str, Any]) -> tuple[int, Any]:
        spec_b = body.get("branch", {})
        self._check_unlocked(pid)
        parent = (
            self._branch(pid, spec_b["parent_id"])
            if spec_b.get("parent_id")
            else next(b for b in self.branches[pid].values() if b["default"])
        )
        name = spec_b.get("name") or self._id("br")
        self._name_free(pid, name)
        self._room(pid)
        content = parent["_content"]
        if spec_b.get("parent_timestamp"):
            self._window(pid, spec_b["parent_timestamp"])
            content = parent.get("_history", {}).get(spec_b["parent_timestamp"], content)
        b = self._new_branch(pid, name, parent, content)
        b["current_state"], b["pending_state"] = "init", "ready"
        if spec_b.get("parent_timestamp"):
            b["parent_timestamp"] = spec_b["parent_timestamp"]
        if spec_b.get("expires_at"):
            b["expires_at"] = spec_b["expires_at"]
        if body.get("annotation_value"):
            self.annotations[pid][b["id"]] = dict(body["annotation_value"])
        ops = [self._op(pid, "create_branch", b["id"])]
        out = {
            "branch": self._public(b),
            "endpoints": [],
            "operations": [o.as_dict() for o in ops],
            "roles": [],
            "databases": [],
        }
        if self.hang_next_create:
            self.hang_next_create -= 1
            out["_hang"] = True
        return 201, out

    def _delete(self, pid: str, b: dict[str, Any]) -> tuple[int, Any]:
        self._check_unlocked(pid)
        if b["default"]:
            raise _Error(400, "cannot delete the project's default branch")
        if b["protected"] or b["id"] in self.undeletable:
            raise _Error(400, "cannot delete a protected branch")
        if any(c.get("parent_id") == b["id"] for c in self.branches[pid].values()):
            raise _Error(400, "branch has children and cannot be deleted")
        del self.branches[pid][b["id"]]
        self.annotations[pid].pop(b["id"], None)
        op = self._op(pid, "delete_timeline", b["id"])
        return 200, {"branch": self._public(b), "operations": [op.as_dict()]}

    def _restore(self, pid: str, target: dict[str, Any], body: dict[str, Any]) -> tuple[int, Any]:
        self._check_unlocked(pid)
        source = self._branch(pid, body["source_branch_id"])
        stamp = body.get("source_timestamp")
        keep = body.get("preserve_under_name")
        if source["id"] == target["id"] and not ((stamp or body.get("source_lsn")) and keep):
            raise _Error(
                400, "restoring a branch to its own history needs a timestamp or LSN and preserve_under_name"
            )
        if stamp:
            self._window(pid, stamp)
        if keep:
            self._name_free(pid, keep)
            self._room(pid)
        content = (
            source.get("_history", {}).get(stamp, f"{source['_content']}@{stamp}")
            if stamp
            else source["_content"]
        )
        ops = []
        if keep:
            preserved = self._new_branch(pid, keep, None, target["_content"])
            preserved.update(
                {
                    k: target[k]
                    for k in ("parent_id", "parent_lsn", "parent_timestamp", "logical_size")
                    if k in target
                }
            )
            preserved["_databases"] = list(target["_databases"])
            for child in self.branches[pid].values():
                if child.get("parent_id") == target["id"] and child is not preserved:
                    child["parent_id"] = preserved["id"]
            target["parent_id"] = preserved["id"]
            ops.append(self._op(pid, "create_branch", preserved["id"]))
        target["_content"] = content
        target["last_reset_at"] = ts()
        target["current_state"] = "resetting"
        ops.append(self._op(pid, "create_timeline", target["id"]))
        out = {"branch": self._public(target), "operations": [o.as_dict() for o in ops]}
        if self.hang_next_restore:
            self.hang_next_restore -= 1
            out["_hang"] = True
        return 200, out

    def _restore_snapshot(self, pid: str, sid: str, body: dict[str, Any]) -> tuple[int, Any]:
        self._check_unlocked(pid)
        snap = next((s for s in self.snapshots[pid] if s["id"] == sid), None)
        if snap is None:
            raise _Error(404, "snapshot not found")
        target = self._branch(pid, body.get("target_branch_id") or snap["source_branch_id"])
        name = body.get("name") or f"{target['name']}-from-{snap['name']}"
        self._name_free(pid, name)
        self._room(pid)
        new = self._new_branch(pid, name, None, snap["_content"])
        new["_databases"] = list(target["_databases"])
        new.update({"restore_status": "restored", "restored_from": sid, "_restore_target": target["id"]})
        ops = [self._op(pid, "create_timeline", new["id"])]
        if body.get("finalize_restore"):
            _, fin = self._finalize(pid, new, None, locked_ok=True)
            ops += [o for o in self.ops[pid] if o.id in {x["id"] for x in fin["operations"]}]
        return 200, {"branch": self._public(new), "operations": [o.as_dict() for o in ops]}

    def _finalize(
        self, pid: str, new: dict[str, Any], name: str | None, locked_ok: bool = False
    ) -> tuple[int, Any]:
        if not locked_ok:
            self._check_unlocked(pid)
        old = self.branches[pid].get(new.get("_restore_target", ""))
        if old is None or new.get("restore_status") != "restored":
            raise _Error(400, "branch is not a restored snapshot awaiting finalization")
        old_name = old["name"]
        renamed = name or f"{old_name} (old)"
        self._name_free(pid, renamed)
        old["name"] = renamed
        new["name"] = old_name
        new["default"], old["default"] = old["default"], False
        new["restore_status"], new["restored_as"] = "finalized", old["id"]
        op = self._op(pid, "apply_config", new["id"])
        return 200, {"operations": [op.as_dict()]}
