"""What every HTTP request to ``/slack/events`` passes before Bolt sees it.

In this order, each cheap before the next: a body of at most ``MAX_BODY`` bytes (413),
a well-formed timestamp within Slack's five minutes and a valid signature (401), and
not a request already handled (a replay of a signed request is acknowledged and
dropped). Nothing of an unverified body is parsed or logged: Bolt's own check logs the
whole body of a request it refuses, which let anyone fill the disk through the log.

Replays are recognised by their signature, which covers the timestamp and the body:
Slack never sends the same one twice, and nobody without the signing secret can make
another. Seen signatures live in the store, so several web processes sharing one state
file run a replayed command once between them; they are forgotten after ``WINDOW``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from slack_sdk.signature import SignatureVerifier

from jobs.store import Store

log = logging.getLogger(__name__)

# Slack's payloads are small: a slash command is a few hundred bytes, a button click
# carries the message it was on (ours stay well under 100 KB, even URL-encoded).
MAX_BODY = 512 * 1024
# Slack's window for a request's timestamp is five minutes either way; a signature is
# remembered for twice that, so it cannot come back once forgotten.
FRESH_SECONDS = 5 * 60
WINDOW = 2 * FRESH_SECONDS


@dataclass(frozen=True)
class Verdict:
    status: int
    reason: str = ""
    forward: bool = False  # pass the request on to Bolt; otherwise answer ``status`` and stop


class RequestGuard:
    def __init__(self, signing_secret: str, store: Store | None) -> None:
        self.verifier = SignatureVerifier(signing_secret)
        self.store = store
        if store is not None:
            with store.transaction() as db:
                db.execute(
                    "CREATE TABLE IF NOT EXISTS slack_seen (signature TEXT PRIMARY KEY, at REAL NOT NULL)"
                )

    def check(self, body: bytes, timestamp: str, signature: str, now: float | None = None) -> Verdict:
        now = time.time() if now is None else now
        if len(body) > MAX_BODY:
            return Verdict(413, "body too large")
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
            return Verdict(401, "malformed timestamp")
        if abs(now - int(timestamp)) > FRESH_SECONDS:
            return Verdict(401, "stale timestamp")
        if not (signature.isascii() and len(signature) <= 100):
            return Verdict(401, "malformed signature")
        try:
            text = body.decode("utf-8")  # Slack sends UTF-8; the verifier would fail on anything else
        except UnicodeDecodeError:
            return Verdict(401, "body not UTF-8")
        if not self.verifier.is_valid(text, timestamp, signature):
            return Verdict(401, "bad signature")
        if self.store is not None and not self._first_time(signature, now):
            return Verdict(200, "replay")  # acknowledged, so Slack is satisfied; not run again
        return Verdict(200, forward=True)

    def _first_time(self, signature: str, now: float) -> bool:
        with self.store.transaction() as db:  # type: ignore[union-attr]
            db.execute("DELETE FROM slack_seen WHERE at < ?", [now - WINDOW])
            cursor = db.execute(
                "INSERT OR IGNORE INTO slack_seen (signature, at) VALUES (?, ?)", [signature, now]
            )
            return cursor.rowcount == 1
