"""A verification's outcome, stored beside the manifest as ``{id}.verify.json``.

Why a separate object and not a field in the manifest: the manifest is the backup's
identity and is written once (other parts of the system cache it and bind it into the
encryption); a verification is a later fact about it that can be repeated and can fail.
The newest outcome replaces the previous one; the bucket stays the source of truth, so
``list`` on any machine shows which backups were proven restorable.
"""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from adapters.storage import Storage
from core.errors import BackupbotError, NotFoundError
from engine.manifest import MANIFEST_SUFFIX, Manifest

log = logging.getLogger(__name__)

VERIFY_SUFFIX = ".verify.json"


def verify_key(manifest: Manifest) -> str:
    return manifest.manifest_key[: -len(MANIFEST_SUFFIX)] + VERIFY_SUFFIX


def write(storage: Storage, manifest: Manifest, outcome: dict[str, Any]) -> str:
    key = verify_key(manifest)
    body = (json.dumps(outcome, indent=2, sort_keys=True, default=str) + "\n").encode()
    storage.put_bytes(key, body, "application/json")
    return key


def read(storage: Storage, manifest: Manifest) -> dict[str, Any] | None:
    try:
        data = json.loads(storage.get_bytes(verify_key(manifest)))
    except NotFoundError:
        return None
    except (ValueError, BackupbotError) as exc:
        log.warning("unreadable verification record of %s: %s", manifest.id, exc)
        return None
    return data if isinstance(data, dict) else None


def outcomes(storage: Storage, manifests: list[Manifest]) -> dict[str, dict[str, Any]]:
    """The stored outcome of each backup that has one, by backup id (one listing, parallel reads)."""
    if not manifests:
        return {}
    prefixes = {m.key.split("/", 2)[0] + "/" + m.database + "/" for m in manifests}
    keys = {o.key for p in prefixes for o in storage.list(p) if o.key.endswith(VERIFY_SUFFIX)}
    wanted = [m for m in manifests if verify_key(m) in keys]
    with ThreadPoolExecutor(max_workers=8) as pool:
        found = list(pool.map(lambda m: (m.id, read(storage, m)), wanted))
    return {bid: data for bid, data in found if data is not None}


def mark(outcome: dict[str, Any] | None) -> str:
    """How a list shows it: "verified 2026-12-05", "VERIFY FAILED 2026-12-05 (step 3)",
    "not verified: error 2026-12-05 (step 3)" (the check could not finish), or ""."""
    if not outcome:
        return ""
    day = str(outcome.get("verified_at", ""))[:10]
    step = outcome.get("failed_step")
    at = f" (step {step})" if step else ""
    if outcome.get("result") == "passed":
        return f"verified {day}"
    if outcome.get("result") == "failed":
        return f"VERIFY FAILED {day}{at}"
    return f"not verified: error {day}{at}"


def icon(outcome: dict[str, Any] | None) -> str:
    """The Slack emoji beside ``mark``."""
    result = (outcome or {}).get("result")
    return {"passed": ":white_check_mark:", "failed": ":x:"}.get(str(result), ":warning:")
