"""Hooks run without a shell, stop on time with their children, and never leak secrets."""

from __future__ import annotations

import http.server
import json
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.hooks import HookError, run_hook


def test_argv_runs_without_shell_and_captures_output(tmp_path: Path) -> None:
    res = run_hook(
        [sys.executable, "-c", "import os; print('hello', os.environ['X']); print('$HOME;rm')"],
        name="maintenance_on",
        timeout=10,
        env={"X": "there"},
    )
    assert res.returncode == 0
    assert "hello there" in res.output and "$HOME;rm" in res.output


def test_failure_names_the_hook_and_redacts(tmp_path: Path) -> None:
    code = "import sys; print('connecting to postgresql://app:s3cret@db/prod'); sys.exit(3)"
    with pytest.raises(HookError) as err:
        run_hook([sys.executable, "-c", code], name="migrate", timeout=10, secrets=["s3cret"])
    text = err.value.render()
    assert "migrate" in text and "exit code 3" in text
    assert "s3cret" not in text and "app:***@db" in text


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    marker = tmp_path / "child-survived"
    # The hook forks a grandchild that would write the marker later; killing the group stops it too.
    child = tmp_path / "child.py"
    child.write_text(f"import time\ntime.sleep(1)\nopen({str(marker)!r}, 'w').write('x')\n")
    hook = tmp_path / "hook.py"
    hook.write_text(
        "import subprocess, sys, time\n"
        f"subprocess.Popen([sys.executable, {str(child)!r}])\n"
        "print('started', flush=True)\n"
        "time.sleep(60)\n"
    )
    with pytest.raises(HookError) as err:
        run_hook([sys.executable, str(hook)], name="maintenance_on", timeout=0.5)
    assert "did not finish within 0.5 s" in err.value.message
    assert "started" in (err.value.detail or "")
    import time

    time.sleep(1.5)
    assert not marker.exists()


def test_missing_program_is_a_clear_error() -> None:
    with pytest.raises(HookError) as err:
        run_hook(["./no/such/script", "on"], name="maintenance_on", timeout=5)
    assert "not found" in err.value.message and err.value.hint


class _Recorder(http.server.BaseHTTPRequestHandler):
    calls: list[tuple[str, str, bytes]] = []
    status = 200

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        type(self).calls.append((self.command, self.path, body))
        self.send_response(type(self).status)
        self.end_headers()
        self.wfile.write(b"ok")

    do_GET = _handle
    do_POST = _handle

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[type[_Recorder]]:
    handler = type("H", (_Recorder,), {"calls": [], "status": 200})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    handler.url = f"http://127.0.0.1:{server.server_address[1]}"  # type: ignore[attr-defined]
    yield handler
    server.shutdown()


def test_webhook_post_and_get(webhook: type[_Recorder]) -> None:
    url = webhook.url  # type: ignore[attr-defined]
    res = run_hook(f"{url}/maint?token=abcd1234", name="maintenance_on", timeout=5, payload={"state": "on"})
    assert res.returncode == 200 and "abcd1234" not in res.what
    run_hook(f"GET {url}/off", name="maintenance_off", timeout=5)
    assert webhook.calls[0][0] == "POST" and json.loads(webhook.calls[0][2]) == {"state": "on"}
    assert webhook.calls[1][:2] == ("GET", "/off")


def test_webhook_error_status_fails(webhook: type[_Recorder]) -> None:
    webhook.status = 503
    with pytest.raises(HookError) as err:
        run_hook(webhook.url + "/x", name="maintenance_on", timeout=5)  # type: ignore[attr-defined]
    assert "HTTP 503" in err.value.message


def test_plain_http_to_another_host_is_refused() -> None:
    with pytest.raises(HookError) as err:
        run_hook("http://example.com/maint", name="maintenance_on", timeout=5)
    assert "https://" in err.value.message
