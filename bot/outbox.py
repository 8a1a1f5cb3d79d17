"""Slack calls delivered in order, from one thread, retried until Slack answers.

Jobs never wait on Slack: reporters drop work here and return. Each job's message is
rendered from the store at send time, so a burst of progress collapses into one
``chat.update`` and, after an outage, the first call that gets through already shows
the job's final state. slack-sdk's retry handlers deal with short 429s (honouring
Retry-After) and dropped connections; when they give up, the outbox waits (Retry-After
again, or a growing backoff) and tries the same call again, forever. Only errors that
retrying cannot fix (a channel the bot is not in, a bad token) drop the call, loudly.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from jobs.store import Job, Store

log = logging.getLogger(__name__)

MAX_BACKOFF = 30.0


class Outbox:
    def __init__(
        self,
        client: WebClient,
        store: Store,
        render: Callable[[Job], tuple[str, list[dict[str, Any]]]],
        default_channel: str = "",
    ) -> None:
        self.client = client
        self.store = store
        self.render = render
        self.default_channel = default_channel
        self._ops: deque[tuple[Any, ...]] = deque()
        self._cond = threading.Condition()
        self._busy = False
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="slack-outbox", daemon=True)
        self._thread.start()

    # ----------------------------------------------------------------- intake

    def touch(self, job_id: int) -> None:
        """The job's message should show its current state."""
        self._add(("job", job_id), coalesce=True)

    def thread(self, job_id: int, text: str) -> None:
        """A line in the job message's thread (posting the message first if needed)."""
        self._add(("thread", job_id, text))

    def post(self, channel: str, text: str, blocks: list[dict[str, Any]] | None = None) -> None:
        self._add(("post", channel, text, blocks))

    def _add(self, op: tuple[Any, ...], coalesce: bool = False) -> None:
        with self._cond:
            # The head may be mid-send with an older rendering: only coalesce with ops not yet started.
            if coalesce and op in (list(self._ops)[1:] if self._busy else self._ops):
                return
            self._ops.append(op)
            self._cond.notify_all()

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until everything queued so far was delivered (or dropped)."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._ops and not self._busy, timeout)

    def close(self, timeout: float = 5.0) -> None:
        self.flush(timeout)
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    # ----------------------------------------------------------------- sender

    def _loop(self) -> None:
        failures = 0
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._ops or self._closed)
                if self._closed:
                    return
                op = self._ops[0]
                self._busy = True
            delay = 0.0
            try:
                self._send(op)
                failures = 0
                done = True
            except SlackApiError as exc:
                status = exc.response.status_code if exc.response is not None else 0
                if status == 429 or status >= 500:
                    failures += 1
                    delay = _retry_after(exc) or min(MAX_BACKOFF, 2.0 ** min(failures, 5))
                    log.warning("Slack answered %s to %s; retrying in %.0f s", status, op[0], delay)
                    done = False
                else:
                    log.error("Slack refused %s: %s; dropping it", op[:2], exc.response.get("error"))
                    done = True
            except Exception as exc:  # connection refused/reset, timeouts: Slack unreachable
                failures += 1
                delay = min(MAX_BACKOFF, 2.0 ** min(failures, 5)) / 2
                log.warning("cannot reach Slack (%s: %s); retrying in %.0f s", type(exc).__name__, exc, delay)
                done = False
            with self._cond:
                if done and self._ops and self._ops[0] is op:
                    self._ops.popleft()
                self._busy = False
                self._cond.notify_all()
                if delay:
                    self._cond.wait_for(lambda: self._closed, delay)

    def _send(self, op: tuple[Any, ...]) -> None:
        kind = op[0]
        if kind == "job":
            self._send_job(op[1])
        elif kind == "thread":
            ts, channel = self._send_job(op[1], only_if_missing=True)
            if ts:
                self.client.chat_postMessage(channel=channel, thread_ts=ts, text=op[2])
        elif kind == "post":
            if op[1]:
                self.client.chat_postMessage(channel=op[1], text=op[2], blocks=op[3])

    def _send_job(self, job_id: int, only_if_missing: bool = False) -> tuple[str, str]:
        job = self.store.get_job(job_id)
        channel = job.channel or self.default_channel
        if not channel:
            return "", ""
        if job.message_ts and only_if_missing:
            return job.message_ts, channel
        text, blocks = self.render(job)
        if job.message_ts:
            self.client.chat_update(channel=channel, ts=job.message_ts, text=text, blocks=blocks)
            return job.message_ts, channel
        resp = self.client.chat_postMessage(channel=channel, text=text, blocks=blocks)
        ts = str(resp["ts"])
        # Reply channel may be normalised by Slack (e.g. a DM id); edits must use the real one.
        real = str(resp.get("channel") or channel)
        self.store.update_job(job_id, message_ts=ts, channel=real)
        return ts, real


def _retry_after(exc: SlackApiError) -> float:
    headers = exc.response.headers if exc.response is not None else {}
    for key, value in (headers or {}).items():
        if key.lower() == "retry-after":
            raw = value[0] if isinstance(value, list) else value
            try:
                return float(raw)
            except (TypeError, ValueError):
                return 0.0
    return 0.0
