"""Neon API v2 over HTTPS: every answer Neon can give turned into a result or one clear error.

Neon's mutating calls return operations that run in the background, and while one runs
the project answers 423 to the next; it throttles with 429, its edge answers 503 and an
HTML 524. 423, 429 and 503 (and any 5xx to a GET) are retried (tenacity, for a bounded
time, honouring Retry-After), then the call fails saying what was still running. A POST
that timed out or got a 5xx page may have worked: it is never repeated here;
``NeonUnknownOutcome`` tells the caller to look first (``engine.neon_branches`` finds the branch by name and adopts it). Every request
carries an ``X-Request-ID`` that every error text repeats, so Neon support can find it.
The API key is never part of any text this module produces.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import requests
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_exponential_jitter

from core.config import Config, DatabaseConfig
from core.errors import BackupbotError, ConfigError
from core.i18n import _
from core.redact import redact

log = logging.getLogger(__name__)

DEFAULT_URL = "https://console.neon.tech/api/v2"
IN_FLIGHT = ("scheduling", "running", "cancelling")
FAILED = ("failed", "error")


class NeonError(BackupbotError):
    """Neon refused or failed a call; the detail carries the request id."""


class NeonAuthError(NeonError):
    pass


class NeonNotFound(NeonError):
    pass


class NeonConflict(NeonError):
    """A branch with that name exists (409)."""


class NeonLimit(NeonError):
    """The project is at a branch limit (422 *_LIMIT_EXCEEDED)."""


class NeonRefused(NeonError):
    """Any other 4xx: Neon understood and said no (e.g. deleting a protected branch)."""


class NeonUnknownOutcome(NeonError):
    """A non-idempotent call timed out or lost its connection: it may or may not have happened."""


class _Transient(Exception):
    def __init__(self, status: int, message: str, rid: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.rid, self.retry_after = status, message, rid, retry_after


def _wait(state: Any) -> float:
    exc = state.outcome.exception() if state.outcome else None
    if isinstance(exc, _Transient) and exc.retry_after is not None:
        return min(exc.retry_after, 60.0)
    return float(wait_exponential_jitter(multiplier=0.3, max=8)(state))


class NeonClient:
    """One project-scoped view of the API; ``database`` names the configured database in hints."""

    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_URL,
        *,
        key_env: str = "NEON_API_KEY",
        database: str = "",
        timeout: float = 30.0,
        retry_seconds: float = 120.0,
        operation_timeout: float = 600.0,
        poll_interval: float = 1.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.key_env, self.database = key_env, database
        self.timeout, self.retry_seconds = timeout, retry_seconds
        self.operation_timeout, self.poll_interval = operation_timeout, poll_interval
        self._key = api_key
        self.last_request_id = ""
        self._http = requests.Session()
        self._http.headers.update(
            {"Authorization": f"Bearer {api_key}", "Accept": "application/json", "User-Agent": "backupbot"}
        )

    @classmethod
    def for_database(cls, cfg: Config, db: DatabaseConfig) -> NeonClient:
        if not db.neon_project_id:
            raise ConfigError(
                _("database '{db}' is not on Neon").format(db=db.name),
                detail=_("[databases.{db}] in {path} has no neon_project_id.").format(
                    db=db.name, path=cfg.path
                ),
                hint=_(
                    'Add `neon_project_id = "your-project-id"` under [databases.{db}] to use Neon branches.'
                ).format(db=db.name),
            )
        key = os.environ.get(cfg.neon.api_key_env, "")
        if not key:
            raise ConfigError(
                _("the Neon API key is not set"),
                detail=_("[neon] api_key_env names {env}, which is empty or unset.").format(
                    env=cfg.neon.api_key_env
                ),
                hint=_("Export {env} with a Neon API key (Neon console → Account → API keys).").format(
                    env=cfg.neon.api_key_env
                ),
            )
        return cls(
            key,
            os.environ.get("NEON_API_URL") or DEFAULT_URL,
            key_env=cfg.neon.api_key_env,
            database=db.name,
            timeout=cfg.neon.timeout_seconds,
            retry_seconds=cfg.neon.retry_seconds,
            operation_timeout=cfg.neon.operation_timeout_seconds,
            poll_interval=cfg.neon.poll_interval_seconds,
        )

    # ------------------------------------------------------------------ transport

    def _clean(self, text: str) -> str:
        return redact(text, [self._key])

    def call(self, method: str, path: str, *, body: Any = None, params: dict[str, Any] | None = None) -> Any:
        """One API call, retried on 423 / 429 / 503 / 5xx pages; the parsed JSON body (None for 204)."""
        last: _Transient | None = None
        try:
            for attempt in Retrying(
                retry=retry_if_exception_type(_Transient),
                stop=stop_after_delay(self.retry_seconds),
                wait=_wait,
                reraise=True,
            ):
                with attempt:
                    try:
                        return self._once(method, path, body, params)
                    except _Transient as exc:
                        last = exc
                        log.info("Neon %s %s: %s (request %s), retrying", method, path, exc.status, exc.rid)
                        raise
        except _Transient as exc:
            last = exc
        assert last is not None
        raise self._gave_up(method, path, last)

    def _once(self, method: str, path: str, body: Any, params: dict[str, Any] | None) -> Any:
        rid = str(uuid.uuid4())
        self.last_request_id = rid
        headers = {"X-Request-ID": rid}
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            resp = self._http.request(
                method, self.base_url + path, json=body, params=params, headers=headers, timeout=self.timeout
            )
        except (requests.Timeout, requests.ConnectionError) as exc:
            timed_out = isinstance(exc, requests.Timeout)
            if method == "GET":
                said = _("the request timed out") if timed_out else _("the request lost its connection")
                raise _Transient(0, said, rid) from None
            if timed_out:
                message = _("Neon {method} {path} timed out; it may or may not have happened")
            else:
                message = _("Neon {method} {path} lost its connection; it may or may not have happened")
            raise NeonUnknownOutcome(
                message.format(method=method, path=path),
                detail=_("Request id {rid}.").format(rid=rid),
                hint=_("Look at the project in the Neon console before repeating it."),
            ) from None
        try:
            data = resp.json() if resp.content else None
        except ValueError:
            data = None
        if resp.status_code < 300:
            return data
        message = str((data or {}).get("message", "")) if isinstance(data, dict) else ""
        code = str((data or {}).get("code", "")) if isinstance(data, dict) else ""
        status = resp.status_code
        if not message and status >= 500:
            message = (
                _("a non-JSON {status} page").format(status=status) if data is None else resp.reason or ""
            )
        if status in (423, 429, 503) or (status >= 500 and method == "GET"):
            # the spec: 423 and 503 are always safe to retry, GETs are idempotent; 429 asks to wait
            retry_after = resp.headers.get("Retry-After")
            after = float(retry_after) if retry_after and retry_after.isdigit() else None
            raise _Transient(status, message or resp.reason or "", rid, after)
        if status >= 500:  # a 524 or 502 on a POST: Neon may have done it anyway
            raise NeonUnknownOutcome(
                _("Neon answered {status} to {method} {path}; it may or may not have happened").format(
                    status=status, method=method, path=path
                ),
                detail=self._clean(
                    _("Neon said: {message} (request id {rid}).").format(message=message, rid=rid)
                ),
                hint=_("Look at the project in the Neon console (Branches, Operations) before repeating it."),
            )
        raise self._error(resp.status_code, code, message, rid, method, path)

    def _gave_up(self, method: str, path: str, last: _Transient) -> NeonError:
        running = ""
        if last.status == 423:
            try:
                pid = path.split("/")[2]
                ops = self._once("GET", f"/projects/{pid}/operations", None, {"limit": 50}) or {}
                busy = [o for o in ops.get("operations", []) if o.get("status") in IN_FLIGHT]
                running = "; ".join(
                    _("{action} on {branch} ({status}, since {time})").format(
                        action=o.get("action"),
                        branch=o.get("branch_id", "?"),
                        status=o.get("status"),
                        time=o.get("created_at"),
                    )
                    for o in busy
                )
            except Exception:  # noqa: BLE001 - the listing is a courtesy; the error below stands
                running = ""
        if last.status == 423:
            what = _("the project was busy with another operation")
        elif last.status == 429:
            what = _("Neon kept rate-limiting the requests")
        elif last.status == 0:
            what = _("Neon did not answer")
        else:
            what = _("Neon kept answering {status}").format(status=last.status)
        if last.status:
            detail = _("Last answer: {status} {message} (request id {rid}).").format(
                status=last.status, message=last.message, rid=last.rid
            )
        else:
            detail = _("Last answer: none {message} (request id {rid}).").format(
                message=last.message, rid=last.rid
            )
        if running:
            detail += " " + _("Still running: {operations}.").format(operations=running)
        return NeonError(
            _("gave up on Neon {method} {path} after {seconds} s: {what}").format(
                method=method, path=path, seconds=f"{self.retry_seconds:.0f}", what=what
            ),
            detail=self._clean(detail),
            hint=_(
                "Nothing more was sent. Wait for the running operation to finish "
                "(Neon console → Operations), then run the command again."
            ),
        )

    def _error(self, status: int, code: str, message: str, rid: str, method: str, path: str) -> NeonError:
        parts = path.strip("/").split("/")
        pid = parts[1] if len(parts) > 1 else "?"
        said = self._clean(
            _("Neon said: {message} (request id {rid}).").format(
                message=f"{status} {code + ': ' if code else ''}{message}", rid=rid
            )
        )
        db = self.database or "DB"
        if status in (401, 403):
            return NeonAuthError(
                _("Neon refused the API key ({status})").format(status=status),
                detail=said,
                hint=_(
                    "Check that ${env} holds a valid Neon API key with access to project '{project}' "
                    "(an org- or project-scoped key); keys are made in the Neon console under API keys."
                ).format(env=self.key_env, project=pid),
            )
        if status == 404:
            if len(parts) > 3 and parts[2] == "branches" and "project" not in message.lower():
                return NeonNotFound(
                    _("Neon branch '{branch}' not found in project '{project}'").format(
                        branch=parts[3], project=pid
                    ),
                    detail=said,
                    hint=_(
                        "`/backup branches {db}` lists the branches; check neon_branch in [databases.{db}]."
                    ).format(db=db),
                )
            if len(parts) > 3 and parts[2] == "snapshots":
                return NeonNotFound(
                    _("Neon snapshot '{snapshot}' not found in project '{project}'").format(
                        snapshot=parts[3], project=pid
                    ),
                    detail=said,
                    hint=_("`/backup branches {db}` lists the project's snapshots.").format(db=db),
                )
            return NeonNotFound(
                _("Neon project '{project}' not found").format(project=pid),
                detail=said,
                hint=_(
                    "Check neon_project_id in [databases.{db}] (Neon console → Settings → Project ID) "
                    "and that the key can see that project."
                ).format(db=db),
            )
        if status == 409:
            return NeonConflict(
                _("a Neon branch with that name already exists"),
                detail=said,
                hint=_("Pick another --name, or look at the existing one with `/backup branches`."),
            )
        if status == 422 and code.endswith("LIMIT_EXCEEDED"):
            count = "?"
            try:
                count = str(
                    (self._once("GET", f"/projects/{pid}/branches/count", None, None) or {}).get("count", "?")
                )
            except Exception:  # noqa: BLE001 - the count only improves the message
                pass
            return NeonLimit(
                _("Neon project '{project}' is at its branch limit ({count} branches exist)").format(
                    project=pid, count=count
                ),
                detail=said,
                hint=_(
                    "Delete branches you no longer need: `/backup prune {db}` shows which backup branches are "
                    "past their expiry and a lead deletes them with `/backup prune {db} --confirm`; or delete "
                    "branches in the Neon console, or raise the plan's branch limit."
                ).format(db=db),
            )
        return NeonRefused(
            _("Neon refused {method} {path} ({status})").format(method=method, path=path, status=status),
            detail=said,
            hint=_(
                "Nothing was changed by this call. Read Neon's message above; the Neon console shows the project."
            ),
        )

    # ------------------------------------------------------------------ endpoints

    def project(self, pid: str) -> dict[str, Any]:
        return dict(self.call("GET", f"/projects/{pid}")["project"])

    def branches(self, pid: str, search: str | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """All branches (with ``search`` a name/id filter) and their annotations by branch id."""
        data = self.call("GET", f"/projects/{pid}/branches", params={"search": search} if search else None)
        return list(data.get("branches", [])), dict(data.get("annotations", {}) or {})

    def branch(self, pid: str, bid: str) -> tuple[dict[str, Any], dict[str, str]]:
        data = self.call("GET", f"/projects/{pid}/branches/{bid}")
        return dict(data["branch"]), dict((data.get("annotation") or {}).get("value", {}) or {})

    def branch_named(self, pid: str, name: str) -> dict[str, Any] | None:
        found, _annotations = self.branches(pid, search=name)
        return next((b for b in found if b.get("name") == name), None)

    def databases(self, pid: str, bid: str) -> list[str]:
        data = self.call("GET", f"/projects/{pid}/branches/{bid}/databases")
        return [str(d["name"]) for d in data.get("databases", [])]

    def snapshots(self, pid: str) -> list[dict[str, Any]]:
        return list(self.call("GET", f"/projects/{pid}/snapshots").get("snapshots", []))

    def create_branch(self, pid: str, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self.call("POST", f"/projects/{pid}/branches", body=body))

    def delete_branch(self, pid: str, bid: str) -> list[dict[str, Any]]:
        data = self.call("DELETE", f"/projects/{pid}/branches/{bid}")
        return list((data or {}).get("operations", []))

    def restore_branch(self, pid: str, bid: str, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self.call("POST", f"/projects/{pid}/branches/{bid}/restore", body=body))

    def restore_snapshot(self, pid: str, sid: str, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self.call("POST", f"/projects/{pid}/snapshots/{sid}/restore", body=body))

    def finalize_restore(self, pid: str, bid: str, name: str) -> list[dict[str, Any]]:
        data = self.call("POST", f"/projects/{pid}/branches/{bid}/finalize_restore", body={"name": name})
        return list(data.get("operations", []))

    def operations_in_flight(self, pid: str, branch_ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
        data = self.call("GET", f"/projects/{pid}/operations", params={"limit": 100})
        ids = set(branch_ids) if branch_ids is not None else None
        return [
            o
            for o in data.get("operations", [])
            if o.get("status") in IN_FLIGHT and (ids is None or o.get("branch_id") in ids)
        ]

    def wait_operations(
        self, pid: str, ops: Iterable[dict[str, Any]], on_wait: Callable[[str], None] | None = None
    ) -> list[dict[str, Any]]:
        """Poll each operation until it is no longer in flight; a failed one ends the step with its error."""
        pending = {str(o["id"]): o for o in ops}
        done: list[dict[str, Any]] = []
        deadline = time.monotonic() + self.operation_timeout
        while pending:
            for op_id in list(pending):
                op = self.call("GET", f"/projects/{pid}/operations/{op_id}")["operation"]
                if op["status"] in IN_FLIGHT:
                    pending[op_id] = op
                    continue
                del pending[op_id]
                if op["status"] in FAILED:
                    raise NeonError(
                        _("Neon operation {action} on branch {branch} {status}").format(
                            action=op["action"], branch=op.get("branch_id", "?"), status=op["status"]
                        ),
                        detail=self._clean(
                            _("Neon's error: {error} (operation {operation}, request id {rid}).").format(
                                error=op.get("error") or _("none given"),
                                operation=op_id,
                                rid=self.last_request_id,
                            )
                        ),
                        hint=_(
                            "Look at the operation in the Neon console (Operations); nothing after this step ran."
                        ),
                    )
                done.append(op)
            if not pending:
                break
            if time.monotonic() > deadline:
                still = "; ".join(
                    _("{action} on {branch} ({status})").format(
                        action=o["action"], branch=o.get("branch_id", "?"), status=o["status"]
                    )
                    for o in pending.values()
                )
                raise NeonError(
                    _("Neon operations still running after {seconds} s").format(
                        seconds=f"{self.operation_timeout:.0f}"
                    ),
                    detail=_("Still running: {operations} (last request id {rid}).").format(
                        operations=still, rid=self.last_request_id
                    ),
                    hint=_(
                        "They may still finish; watch them in the Neon console (Operations) before retrying."
                    ),
                )
            if on_wait:
                on_wait(", ".join(f"{o['action']} {o['status']}" for o in pending.values()))
            time.sleep(self.poll_interval)
        return done
