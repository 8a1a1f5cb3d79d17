"""What every HTTP request to ``/slack/events`` passes before Bolt sees it.

In this order, each cheap before the next: a body of at most ``MAX_BODY`` bytes (413),
a well-formed timestamp within Slack's five minutes and a valid signature (401), and
not a request already handled (a replay of a signed request is acknowledged and
dropped). Nothing of an unverified body is parsed or logged: Bolt's own check logs the
whole body of a request it refuses, which let anyone fill the disk through the log.

Replays are recognised by their signature, which covers the timestamp and the body:
Slack never sends the same one twice, and nobody without the signing secret can make
another. Seen signatures live in the state directory, so several web processes sharing
it run a replayed command once between them; they are forgotten after ``WINDOW``.
"""

from __future__ import annotations

import hmac
import logging
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slack_sdk.signature import SignatureVerifier

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


SEEN_FILE = "slack-seen.sqlite3"


class RequestGuard:
    """``check`` each request; ``state_dir`` (shared by the web processes) remembers signatures.

    The signatures live in a small SQLite file of their own beside the job store, so the
    write every request makes never waits on the runner's writes to the jobs.
    """

    def __init__(self, signing_secret: str, state_dir: Path | None, store: Any = None) -> None:
        self.verifier = SignatureVerifier(signing_secret)
        self.path = Path(state_dir) / SEEN_FILE if state_dir is not None else None
        self._local = threading.local()
        self._next_prune = 0.0
        # Web processes on different machines share no state directory: with the state in
        # PostgreSQL the signatures are kept there (one statement each, no write lock).
        self._store = store if getattr(store, "backend", "") == "postgresql" else None
        self._remembers = self.path is not None or self._store is not None
        if self._store is not None:
            with self._store.transaction() as db:
                db["slack_seen"].create(
                    {"signature": str, "at": float}, pk="signature", not_null={"at"}, if_not_exists=True
                )
        elif self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._db() as db:
                db.execute(
                    "CREATE TABLE IF NOT EXISTS slack_seen (signature TEXT PRIMARY KEY, at REAL NOT NULL)"
                )

    def _db(self) -> Any:
        if self._store is not None:
            return self._store.db
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(str(self.path), timeout=30, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

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
        # freshness is checked above, against ``now``; the signature is computed by slack_sdk
        expected = self.verifier.generate_signature(timestamp=timestamp, body=text) or ""
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            return Verdict(401, "bad signature")
        if self._remembers and not self._first_time(signature, now):
            return Verdict(200, "replay")  # acknowledged, so Slack is satisfied; not run again
        return Verdict(200, forward=True)

    def _first_time(self, signature: str, now: float) -> bool:
        db = self._db()
        if now >= self._next_prune:  # forgetting old signatures once a minute keeps each write small
            self._next_prune = now + 60
            db.execute("DELETE FROM slack_seen WHERE at < ?", [now - WINDOW])
        # one statement in autocommit: atomic, and the primary key decides who was first
        cursor = db.execute(
            "INSERT OR IGNORE INTO slack_seen (signature, at) VALUES (?, ?)", [signature, now]
        )
        return cursor.rowcount == 1

    def seen(self) -> int:
        """How many signatures are remembered (for tests and the curious)."""
        return int(self._db().execute("SELECT count(*) FROM slack_seen").fetchone()[0])
