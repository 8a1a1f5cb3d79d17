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
from core.i18n import _
from engine.manifest import MANIFEST_SUFFIX, Manifest
from engine.manifest_cache import Entry, ManifestCache

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
        raw = storage.get_bytes(verify_key(manifest))
    except NotFoundError:
        return None
    except BackupbotError as exc:
        log.warning("unreadable verification record of %s: %s", manifest.id, exc)
        return None
    return _parse(raw, manifest)


def _parse(raw: bytes, manifest: Manifest) -> dict[str, Any] | None:
    try:
        data = json.loads(raw)
    except ValueError as exc:
        log.warning("unreadable verification record of %s: %s", manifest.id, exc)
        return None
    return data if isinstance(data, dict) else None


def _fetch(storage: Storage, key: str) -> bytes | None:
    try:
        return storage.get_bytes(key)
    except NotFoundError:
        return None  # deleted between listing and reading
    except BackupbotError as exc:
        log.warning("unreadable verification record %s: %s", key, exc)
        return None


def outcomes(
    storage: Storage, manifests: list[Manifest], cache: ManifestCache | None = None
) -> dict[str, dict[str, Any]]:
    """The stored outcome of each backup that has one, by backup id (one listing, parallel reads).

    With ``cache`` (the catalog's manifest cache), a record whose key, ETag and size the listing
    repeats is not read again, so a warm ``list`` of verified backups makes listings only; the
    listing still decides what exists.
    """
    if not manifests:
        return {}
    prefixes = sorted({m.key.split("/", 2)[0] + "/" + m.database + "/" for m in manifests})
    listed = {o.key: o for p in prefixes for o in storage.list(p) if o.key.endswith(VERIFY_SUFFIX)}
    wanted = [m for m in manifests if verify_key(m) in listed]
    scope = f"{storage.describe()}#verify"
    cached: dict[str, Entry] = {}
    if cache is not None:
        for p in prefixes:
            cached.update(cache.entries(scope, p))
    found: dict[str, dict[str, Any]] = {}
    to_read: list[Manifest] = []
    for m in wanted:
        info, entry = listed[verify_key(m)], cached.get(verify_key(m))
        if entry is not None and info.etag and (entry.etag, entry.size) == (info.etag, info.size):
            data = _parse(entry.body, m)
            if data is not None:
                found[m.id] = data
        else:
            to_read.append(m)
    with ThreadPoolExecutor(max_workers=8) as pool:
        raws = list(pool.map(lambda m: (m, _fetch(storage, verify_key(m))), to_read))
    fresh: dict[str, Entry] = {}
    for m, raw in raws:
        data = _parse(raw, m) if raw is not None else None
        if data is None:
            continue
        found[m.id] = data
        info = listed[verify_key(m)]
        if info.etag:
            fresh[info.key] = Entry(info.etag, info.size, raw)  # type: ignore[arg-type]
    if cache is not None:
        for p in prefixes:
            cache.sync(
                scope,
                p,
                [k for k in listed if k.startswith(p)],
                {k: e for k, e in fresh.items() if k.startswith(p)},
            )
    return found


def mark(outcome: dict[str, Any] | None) -> str:
    """How a list shows it: "verified 2026-12-05", "VERIFY FAILED 2026-12-05 (step 3)",
    "not verified: error 2026-12-05 (step 3)" (the check could not finish), or ""."""
    if not outcome:
        return ""
    day = str(outcome.get("verified_at", ""))[:10]
    step = outcome.get("failed_step")
    if outcome.get("result") == "passed":
        return _("verified {day}").format(day=day)
    if outcome.get("result") == "failed":
        if step:
            return _("VERIFY FAILED {day} (step {step})").format(day=day, step=step)
        return _("VERIFY FAILED {day}").format(day=day)
    if step:
        return _("not verified: error {day} (step {step})").format(day=day, step=step)
    return _("not verified: error {day}").format(day=day)


def icon(outcome: dict[str, Any] | None) -> str:
    """The Slack emoji beside ``mark``."""
    result = (outcome or {}).get("result")
    return {"passed": ":white_check_mark:", "failed": ":x:"}.get(str(result), ":warning:")
