"""Slack calls delivered in order, from one thread, retried until Slack answers — across restarts.

Jobs never wait on Slack: reporters drop work here and return. Each job's message is
rendered from the store at send time, so a burst of progress collapses into one
``chat.update`` and, after an outage, the first call that gets through already shows
the job's final state. slack-sdk's retry handlers deal with short 429s (honouring
Retry-After) and dropped connections; when they give up, the outbox waits (Retry-After
again, or a growing backoff) and tries the same call again, forever. Only errors that
retrying cannot fix (a channel the bot is not in, a bad token) drop the call, loudly.

Nothing waiting for Slack lives only in memory, so a process that dies during a Slack
outage loses no message:

- ``slack_reported`` records which state each job's message last showed. On start, and
  every ``sweep_every`` seconds, every job whose state differs from that is touched
  again, so its message catches up (this also reports jobs a separate ``python -m jobs``
  ran with no Slack of its own). Jobs already in the store when the table is first
  created count as shown, so an upgrade does not re-post history.
- ``slack_outbox`` holds thread lines and alerts (which cannot be re-derived from the
  job row) until Slack accepted them. Each row names the process that will send it and
  when that process was last alive; rows of a process that is gone are adopted.

Several processes share one store (a web process and workers), and each may be the first
to report a job; a job has one message, so its first post is claimed in the store
(``slack_first_post``) before it is sent. A process that finds the claim taken waits for
the message's ts to appear and then edits that message; a claim whose process is gone is
taken over, so a crash between claiming and posting never silences a job.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from core.redact import redact
from core.slack_text import SECTION_TEXT, cut
from jobs.locks import utcnow
from jobs.runner import pid_alive
from jobs.store import Job, Store

log = logging.getLogger(__name__)

MAX_BACKOFF = 30.0
# While Slack refuses connections, probe it this often at most: one cheap connect attempt.
MAX_UNREACHABLE_BACKOFF = 5.0
SWEEP_EVERY = 15.0
# A state change younger than this may still be on its way through another process's outbox.
SWEEP_GRACE = 20.0
# A process that has not refreshed its rows for this long is gone; its rows are adopted.
OWNER_STALE = 120.0

_HOST = socket.gethostname()
_LIVE_OWNERS: set[str] = set()  # outboxes of this process that still run (tests build several)
_LIVE_LOCK = threading.Lock()

Op = tuple[str, int]  # ("job", job_id) or ("row", slack_outbox id)

# How long a process that lost the first-post claim waits before it looks for the ts again,
# and for how long it keeps the call at the head of its queue; past that the call is left to
# the sweep (which edits the message once it exists), so its other messages never wait on it.
CLAIM_WAIT = 0.25
CLAIM_PATIENCE = 30.0

# Slack refused the message's blocks; its text alone still says what happened.
BLOCK_ERRORS = frozenset({"invalid_blocks", "invalid_blocks_format", "msg_blocks_too_long", "msg_too_long"})


class PostedElsewhere(Exception):
    """Another live process claimed a job's first post: edit its message once its ts is stored."""


def default_backoff(failures: int, unreachable: bool) -> float:
    """Seconds before trying a call again: a growing wait, capped (lower while Slack is unreachable)."""
    if unreachable:
        return min(MAX_UNREACHABLE_BACKOFF, 0.5 * 2.0 ** min(failures, 5))
    return min(MAX_BACKOFF, 2.0 ** min(failures, 5))


class Outbox:
    def __init__(
        self,
        client: WebClient,
        store: Store,
        render: Callable[[Job], tuple[str, list[dict[str, Any]]]],
        default_channel: str = "",
        sweep_every: float = SWEEP_EVERY,
        backoff: Callable[[int, bool], float] = default_backoff,
        pause: Callable[[float], None] | None = None,
    ) -> None:
        """``backoff`` and ``pause`` (how a retry waits) are the retry schedule; tests replace them
        to live through a long outage on a simulated clock."""
        self.client = client
        self.store = store
        self.render = render
        self.default_channel = default_channel
        self.sweep_every = sweep_every
        self.backoff = backoff
        self._pause = pause
        self.owner = f"{_HOST}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._ops: deque[Op] = deque()
        self._cond = threading.Condition()
        self._busy = False
        self._closed = False
        with _LIVE_LOCK:
            _LIVE_OWNERS.add(self.owner)
        _create_tables(store)
        self._sweep(grace=0.0)
        self._thread = threading.Thread(target=self._loop, name="slack-outbox", daemon=True)
        self._thread.start()

    # ----------------------------------------------------------------- intake

    def touch(self, job_id: int) -> None:
        """The job's message should show its current state."""
        self._add(("job", job_id), coalesce=True)

    def thread(self, job_id: int, text: str) -> None:
        """A line in the job message's thread (posting the message first if needed)."""
        self._add(("row", self._persist("thread", job_id=job_id, text=text)))

    def post(self, channel: str, text: str, blocks: list[dict[str, Any]] | None = None) -> None:
        if channel:
            self._add(("row", self._persist("post", channel=channel, text=text, blocks=blocks)))

    def pending(self) -> int:
        """Calls not yet accepted by Slack (queued here, or persisted for a later start)."""
        rows = self.store.db.query("SELECT count(*) AS n FROM slack_outbox")
        with self._cond:
            jobs = sum(1 for op in self._ops if op[0] == "job")
        return jobs + int(next(iter(rows))["n"])

    def _persist(
        self,
        kind: str,
        *,
        job_id: int | None = None,
        channel: str = "",
        text: str,
        blocks: list[dict[str, Any]] | None = None,
    ) -> int:
        with self.store.transaction() as db:
            row = {
                "kind": kind,
                "job_id": job_id,
                "channel": channel,
                "text": text,
                "blocks": json.dumps(blocks) if blocks else None,
                "owner": self.owner,
                "seen_at": time.time(),
                "created_at": utcnow(),
            }
            return int(db["slack_outbox"].insert(row).last_pk)

    def _add(self, op: Op, coalesce: bool = False) -> None:
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
        """Stop after delivering what Slack takes within ``timeout``; the rest waits in the store."""
        self.flush(timeout)
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        with _LIVE_LOCK:
            _LIVE_OWNERS.discard(self.owner)

    # --------------------------------------------------------------- recovery

    def _sweep(self, grace: float) -> None:
        """Touch every job whose message is behind its state; adopt rows of gone processes."""
        cutoff = (datetime.now(UTC) - timedelta(seconds=grace)).isoformat(timespec="milliseconds")
        cutoff = cutoff.replace("+00:00", "Z")
        behind = self.store.db.query(
            "SELECT j.id FROM jobs j LEFT JOIN slack_reported r ON r.job_id = j.id "
            "WHERE (r.status IS NULL OR r.status != j.status) AND j.updated_at <= ? ORDER BY j.id LIMIT 500",
            [cutoff],
        )
        for row in list(behind):
            self.touch(int(row["id"]))
        now = time.time()
        with self._cond:
            queued = {op[1] for op in self._ops if op[0] == "row"}
        own = self.store.db.query("SELECT id FROM slack_outbox WHERE owner = ? ORDER BY id", [self.owner])
        for row in list(own):
            if int(row["id"]) not in queued:
                self._add(("row", int(row["id"])))  # written inside a transaction that committed late
        with self.store.transaction() as db:
            db.execute("UPDATE slack_outbox SET seen_at = ? WHERE owner = ?", [now, self.owner])
            db.execute("UPDATE slack_first_post SET seen_at = ? WHERE owner = ?", [now, self.owner])
            # Once the job's ts is stored, the ts itself says it has its message (_claim reads it
            # first, in the same transaction as the claim): the claim has done its work.
            db.execute(
                "DELETE FROM slack_first_post WHERE job_id IN "
                "(SELECT id FROM jobs WHERE message_ts IS NOT NULL AND message_ts != '')"
            )
            others = list(
                db.query(
                    "SELECT id, owner, seen_at FROM slack_outbox WHERE owner != ? ORDER BY id", [self.owner]
                )
            )
            adopted = []
            for row in others:
                if _owner_gone(row["owner"], row["seen_at"] or 0.0, now):
                    db.execute(
                        "UPDATE slack_outbox SET owner = ?, seen_at = ? WHERE id = ? AND owner = ?",
                        [self.owner, now, row["id"], row["owner"]],
                    )
                    adopted.append(int(row["id"]))
        if adopted:
            log.info("delivering %d Slack message(s) an earlier process could not send", len(adopted))
        for row_id in adopted:
            self._add(("row", row_id))

    # ----------------------------------------------------------------- sender

    def _loop(self) -> None:
        failures = 0
        next_sweep = time.monotonic() + self.sweep_every
        waiting: dict[Op, float] = {}  # calls waiting for another process's first post, since when
        while True:
            with self._cond:
                self._cond.wait_for(
                    lambda: self._ops or self._closed, max(0.0, next_sweep - time.monotonic())
                )
                if self._closed:
                    return
                sweep = time.monotonic() >= next_sweep
                if not sweep:
                    op = self._ops[0]
                    self._busy = True
            if sweep:
                try:
                    self._sweep(grace=SWEEP_GRACE)
                except Exception:
                    log.exception("checking for unreported jobs failed; trying again later")
                next_sweep = time.monotonic() + self.sweep_every
                continue
            delay = 0.0
            sent = True
            try:
                sent = self._send(op)
                failures = 0
                done = True
            except PostedElsewhere:
                # not a failure: the other process is posting it
                if time.monotonic() - waiting.setdefault(op, time.monotonic()) < CLAIM_PATIENCE:
                    delay, done = CLAIM_WAIT, False
                else:
                    log.info("another process has not posted job message %s yet; the sweep will edit it", op)
                    done, sent = True, False  # not settled: the sweep brings it back
            except SlackApiError as exc:
                status = exc.response.status_code if exc.response is not None else 0
                if status == 429 or status >= 500:
                    failures += 1
                    delay = _retry_after(exc) or self.backoff(failures, False)
                    log.warning("Slack answered %s to %s; retrying in %.0f s", status, op[0], delay)
                    done = False
                else:
                    log.error("Slack refused %s: %s; dropping it", op, exc.response.get("error"))
                    done = True
            except Exception as exc:  # connection refused/reset, timeouts: Slack unreachable
                failures += 1
                delay = self.backoff(failures, True)
                log.warning(
                    "cannot reach Slack (%s: %s); retrying in %.0f s",
                    type(exc).__name__,
                    redact(str(exc)),
                    delay,
                )
                done = False
            if done:
                waiting.pop(op, None)
            if done and sent:
                self._settled(op)
            with self._cond:
                if done and self._ops and self._ops[0] is op:
                    self._ops.popleft()
                self._busy = False
                self._cond.notify_all()
                if delay and self._pause is None:
                    self._cond.wait_for(lambda: self._closed, delay)
            if delay and self._pause is not None:
                self._pause(delay)

    def _settled(self, op: Op) -> None:
        """Slack took the call (or refused it for good): never send it again."""
        try:
            if op[0] == "row":
                with self.store.transaction() as db:
                    db.execute("DELETE FROM slack_outbox WHERE id = ?", [op[1]])
            else:
                job = self.store.find_job(op[1])
                if job is not None:
                    self._mark(job)
        except Exception:
            log.exception("recording a delivered Slack message failed; it may be sent again")

    def _send(self, op: Op) -> bool:
        """Deliver one op; False when there was nothing (visible) to deliver."""
        if op[0] == "job":
            self._send_job(op[1])
            return True
        rows = list(
            self.store.db.query("SELECT * FROM slack_outbox WHERE id = ? AND owner = ?", [op[1], self.owner])
        )
        if not rows:
            # Either a process that adopted it delivered it, or the caller's transaction that
            # wrote it has not committed yet; the sweep picks up our own rows left behind.
            return False
        row = rows[0]
        if row["kind"] == "thread":
            ts, channel = self._send_job(int(row["job_id"]), only_if_missing=True)
            if ts:
                self._post(channel=channel, thread_ts=ts, text=row["text"])
        elif row["channel"]:
            blocks = json.loads(row["blocks"]) if row["blocks"] else None
            self._post(channel=row["channel"], text=row["text"], blocks=blocks)
        return True

    def _post(self, **kw: Any) -> Any:
        return self._call(self.client.chat_postMessage, None, **kw)

    def _update(self, **kw: Any) -> Any:
        return self._call(self.client.chat_update, [], **kw)  # [] clears the blocks an edit replaces

    def _call(self, method: Callable[..., Any], no_blocks: Any, **kw: Any) -> Any:
        """The call; if Slack refuses its blocks, the same message as plain text, so it is not lost."""
        try:
            return method(**kw)
        except SlackApiError as exc:
            error = exc.response.get("error") if exc.response is not None else None
            if not kw.get("blocks") or error not in BLOCK_ERRORS:
                raise
            log.error(
                "Slack refused a message's blocks (%s: %s); sending its text alone",
                error,
                redact(cut(json.dumps(exc.response.get("errors") or [])[:500], 500)),
            )
            return method(**{**kw, "blocks": no_blocks, "text": cut(kw.get("text") or "", SECTION_TEXT)})

    def _send_job(self, job_id: int, only_if_missing: bool = False) -> tuple[str, str]:
        job = self.store.find_job(job_id)
        if job is None:
            return "", ""
        channel = job.channel or self.default_channel
        if not channel:
            self._mark(job)  # nowhere to show it: nothing to catch up on later
            return "", ""
        if job.message_ts and only_if_missing:
            return job.message_ts, channel
        if not job.message_ts:
            job = self._claim_first_post(job)  # raises PostedElsewhere when another process posts it
            channel = job.channel or self.default_channel
            if job.message_ts and only_if_missing:
                return job.message_ts, channel
        text, blocks = self.render(job)
        if job.message_ts:
            self._update(channel=channel, ts=job.message_ts, text=text, blocks=blocks)
            self._mark(job)
            return job.message_ts, channel
        resp = self._post(channel=channel, text=text, blocks=blocks)
        ts = str(resp["ts"])
        # Reply channel may be normalised by Slack (e.g. a DM id); edits must use the real one.
        real = str(resp.get("channel") or channel)
        self.store.update_job(job_id, message_ts=ts, channel=real)
        self._mark(job)
        return ts, real

    def _claim_first_post(self, job: Job) -> Job:
        """The job as it is now, once this process may post its first message (or it has one).

        One transaction reads the job's ts and takes the claim, so a process that posted and
        stored the ts in between is seen; the sweep deletes the claim once the ts is stored,
        so the table holds only jobs whose first message is still on its way.
        """
        now = time.time()
        with self.store.transaction() as db:
            fresh = self.store.find_job(job.id) or job
            if fresh.message_ts:
                return fresh
            taken = db.execute(
                "INSERT OR IGNORE INTO slack_first_post (job_id, owner, seen_at) VALUES (?, ?, ?)",
                [job.id, self.owner, now],
            ).rowcount
            if taken:
                return fresh
            rows = list(db.query("SELECT owner, seen_at FROM slack_first_post WHERE job_id = ?", [job.id]))
            owner, seen_at = rows[0]["owner"], float(rows[0]["seen_at"] or 0.0)
            if owner == self.owner:
                return fresh  # ours from an earlier attempt (Slack did not take the post)
            if (
                _owner_gone(owner, seen_at, now)
                and db.execute(
                    "UPDATE slack_first_post SET owner = ?, seen_at = ? WHERE job_id = ? AND owner = ?",
                    [self.owner, now, job.id, owner],
                ).rowcount
            ):
                log.info("posting the message of job %s, which a process that is gone had claimed", job.id)
                return fresh
        raise PostedElsewhere(job.id)

    def _mark(self, job: Job) -> None:
        """The job's message now shows ``job.status`` (the state it was rendered in)."""
        with self.store.transaction() as db:
            db["slack_reported"].upsert(
                {"job_id": job.id, "status": str(job.status), "at": utcnow()}, pk="job_id"
            )


def _create_tables(store: Store) -> None:
    with store.transaction() as db:
        fresh = "slack_reported" not in db.table_names()
        db["slack_reported"].create(
            {"job_id": int, "status": str, "at": str}, pk="job_id", if_not_exists=True
        )
        if fresh:
            db.execute(
                "INSERT INTO slack_reported (job_id, status, at) SELECT id, status, ? FROM jobs", [utcnow()]
            )
        db["slack_outbox"].create(
            {
                "id": int,
                "kind": str,
                "job_id": int,
                "channel": str,
                "text": str,
                "blocks": str,
                "owner": str,
                "seen_at": float,
                "created_at": str,
            },
            pk="id",
            not_null={"kind", "text", "owner", "created_at"},
            if_not_exists=True,
        )
        db["slack_first_post"].create(
            {"job_id": int, "owner": str, "seen_at": float},
            pk="job_id",
            not_null={"owner"},
            if_not_exists=True,
        )


def _owner_gone(owner: str, seen_at: float, now: float) -> bool:
    """A row's sender is gone: silent too long, or (same host) its process is dead."""
    if now - seen_at > OWNER_STALE:
        return True
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != _HOST or not pid_text.isdigit():
        return False
    if int(pid_text) == os.getpid():
        with _LIVE_LOCK:
            return owner not in _LIVE_OWNERS  # an earlier life of this pid (containers restart as pid 1)
    return not pid_alive(int(pid_text))


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
