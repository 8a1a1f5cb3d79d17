"""Run the team's maintenance and migrate hooks: an argv without a shell, or a webhook.

Hooks are the app's own scripts (``./scripts/maint on``, ``npm run db:migrate``) and
are trusted to do their job, not to behave: a hook that hangs must not hold a restore
forever, and a hook that forks must not leave children behind, so each one runs in its
own process group that is killed as a whole on timeout. What a hook prints goes into
Slack messages and the runbook, so it is redacted (the target's URL is in its
environment) and only the tail is kept.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from core.errors import BackupbotError
from core.i18n import _
from core.redact import redact, redact_url

OUTPUT_TAIL_CHARS = 3000
_KILL_GRACE_SECONDS = 5.0


class HookError(BackupbotError):
    """A maintenance or migrate hook failed, timed out or could not be started."""


@dataclass(frozen=True)
class HookResult:
    """What a hook did, in a form that can be shown to people (already redacted)."""

    what: str  # the argv joined, or "POST https://…"
    returncode: int  # exit code, or the HTTP status for webhooks
    output: str  # the redacted tail of stdout+stderr, or of the response body
    seconds: float


Hook = Sequence[str] | str


def is_configured(hook: Hook) -> bool:
    """True when the setting names something to run (an empty list or string means "skip")."""
    return bool(hook.strip()) if isinstance(hook, str) else bool(hook)


def describe(hook: Hook) -> str:
    if isinstance(hook, str):
        method, url = _split_webhook(hook)
        return f"{method} {_show_url(url)}"
    return " ".join(hook)


def _show_url(url: str) -> str:
    """The URL without password or query string: webhook tokens often travel in the query."""
    shown = redact_url(url)
    return shown.split("?", 1)[0] + ("?…" if "?" in shown else "")


def run_hook(
    hook: Hook,
    *,
    name: str,
    timeout: float,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    secrets: Sequence[str] = (),
    payload: Mapping[str, object] | None = None,
) -> HookResult:
    """Run ``hook`` (argv or webhook URL) and return its result, or raise ``HookError``.

    ``name`` says which setting it came from (``maintenance_on``…) so errors can point at it;
    ``env`` is added to the bot's own environment; ``payload`` is the JSON body of a webhook.
    """
    if isinstance(hook, str):
        return _run_webhook(hook, name=name, timeout=timeout, secrets=secrets, payload=payload or {})
    return run_argv(list(hook), name=name, timeout=timeout, env=env, cwd=cwd, secrets=secrets)


def run_argv(
    argv: list[str],
    *,
    name: str,
    timeout: float,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    secrets: Sequence[str] = (),
) -> HookResult:
    """Run an argv without a shell in its own process group; kill the group on timeout."""
    if not argv:
        raise HookError(
            _("hook '{name}' is empty").format(name=name),
            hint=_("Set {name} to an argv list or remove it.").format(name=name),
        )
    what = redact(" ".join(argv), list(secrets))
    full_env = {**os.environ, **(env or {})}
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            argv,
            cwd=cwd or None,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except FileNotFoundError:
        if cwd:
            message = _("hook '{name}' could not start: {program} not found in {cwd}").format(
                name=name, program=argv[0], cwd=cwd
            )
        else:
            message = _("hook '{name}' could not start: {program} not found").format(
                name=name, program=argv[0]
            )
        raise HookError(
            message,
            detail=f"{name} = {what}",
            hint=_(
                "Use a path that exists on the bot's machine (relative paths are resolved from the "
                "working directory, migrate_cwd for migrate), or install the program."
            ),
        ) from None
    except PermissionError:
        raise HookError(
            _("hook '{name}' could not start: {program} is not executable").format(
                name=name, program=argv[0]
            ),
            detail=f"{name} = {what}",
            hint=_("`chmod +x {program}`, or put the interpreter first in the argv.").format(program=argv[0]),
        ) from None
    except NotADirectoryError:
        raise HookError(
            _("hook '{name}' could not start: its directory {cwd} does not exist").format(name=name, cwd=cwd),
            hint=_("Fix migrate_cwd in the config."),
        ) from None
    try:
        out, _err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        out = _kill_group(proc)
        tail = _tail(out, secrets)
        raise HookError(
            _("hook '{name}' did not finish within {seconds} s and was stopped").format(
                name=name, seconds=f"{timeout:g}"
            ),
            detail=_detail(name, what, tail),
            hint=_("Check why it hangs (run it by hand), or raise hook_timeout_seconds for this database."),
        ) from None
    except BaseException:
        _kill_group(proc)
        raise
    seconds = time.monotonic() - started
    tail = _tail(out, secrets)
    if proc.returncode != 0:
        raise HookError(
            _("hook '{name}' failed with exit code {code}").format(name=name, code=proc.returncode),
            detail=_detail(name, what, tail),
            hint=_("Read its output above, fix the cause, and run it again by hand."),
        )
    return HookResult(what=what, returncode=0, output=tail, seconds=seconds)


def _detail(name: str, what: str, tail: str) -> str:
    """The setting as it ran, then the end of what it printed (the label translated, the output not)."""
    if not tail:
        return f"{name} = {what}"
    return f"{name} = {what}\n" + _("last output:") + f"\n{tail}"


def _kill_group(proc: subprocess.Popen[bytes]) -> bytes:
    """SIGTERM the whole process group, then SIGKILL what is left; return what was printed."""
    for sig, grace in ((signal.SIGTERM, _KILL_GRACE_SECONDS), (signal.SIGKILL, _KILL_GRACE_SECONDS)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            out, _err = proc.communicate(timeout=grace)
            return out or b""
        except subprocess.TimeoutExpired:
            continue
    return b""


def _tail(out: bytes | None, secrets: Sequence[str]) -> str:
    text = (out or b"").decode("utf-8", "replace").strip()
    if len(text) > OUTPUT_TAIL_CHARS:
        text = "…" + text[-OUTPUT_TAIL_CHARS:]
    return redact(text, list(secrets))


def _split_webhook(hook: str) -> tuple[str, str]:
    """``"https://…"`` is a POST; ``"GET https://…"`` and ``"POST https://…"`` say the method."""
    parts = hook.strip().split(None, 1)
    if len(parts) == 2 and parts[0].upper() in ("GET", "POST"):
        return parts[0].upper(), parts[1].strip()
    return "POST", hook.strip()


def _check_webhook_url(url: str, name: str) -> None:
    parts = urlsplit(url)
    loopback = parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")
    if parts.scheme != "https" and not loopback:
        raise HookError(
            _("hook '{name}' is not an https:// URL").format(name=name),
            detail=f"{name} = {_show_url(url)}",
            hint=_(
                "Webhooks must use https:// (plain http is accepted only for 127.0.0.1); "
                "or give an argv list to run a command."
            ),
        )


def _run_webhook(
    hook: str, *, name: str, timeout: float, secrets: Sequence[str], payload: Mapping[str, object]
) -> HookResult:
    method, url = _split_webhook(hook)
    _check_webhook_url(url, name)
    shown = f"{method} {_show_url(url)}"
    secrets = [*secrets, url.split("?", 1)[1] if "?" in url else ""]
    data = json.dumps(payload).encode() if method == "POST" else None
    request = urllib.request.Request(
        url,
        data=data,
        method=method,
        headers={"Content-Type": "application/json", "User-Agent": "backupbot-hook"},
    )
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            body = resp.read(64 * 1024)
            status = resp.status
    except urllib.error.HTTPError as exc:
        body = exc.read(4096) if exc.fp else b""
        detail = f"{name} = {shown}"
        if body:
            detail += "\n" + _("response:") + "\n" + _tail(body, secrets)
        raise HookError(
            _("hook '{name}' answered HTTP {code}").format(name=name, code=exc.code),
            detail=detail,
            hint=_(
                "Check the webhook's service and its logs; the request is retried only when the step is run again."
            ),
        ) from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise HookError(
            _("hook '{name}' could not be reached").format(name=name),
            detail=f"{name} = {shown}: {redact(str(reason), list(secrets))}",
            hint=_("Check the URL and that the service is up and reachable from the bot's machine."),
        ) from None
    return HookResult(
        what=shown, returncode=status, output=_tail(body, secrets), seconds=time.monotonic() - started
    )
