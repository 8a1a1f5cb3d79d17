"""Which backups exist: read from the manifests in the bucket, the source of truth.

Why the bucket and not a local index: the bot's SQLite file can be lost with its host; the
bucket is what survives, and an object without a manifest is an interrupted upload, not a
backup. Every answer here therefore starts with a listing of the bucket.

Why it stays cheap at thousands of backups: a listing costs one request per 1,000 keys
and says which manifests exist and their etags; only manifests that are new or changed
since this machine last read them are fetched (``engine.manifest_cache``). And each
question lists only where its answer can be: ``latest:DB`` walks the month folders of
DB newest first and stops at the first that has a backup; an id or id prefix names its
database and month, so only that folder is listed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor

from adapters.storage import Storage, open_storage
from adapters.storage.base import ObjectInfo
from core.config import Config
from core.errors import IntegrityError, NotFoundError, UsageError
from core.i18n import _, ngettext
from engine.manifest import MANIFEST_SUFFIX, Manifest
from engine.manifest_cache import Entry, ManifestCache

log = logging.getLogger(__name__)

READERS = 6  # manifests fetched at once when the cache lacks them (the S3 client pools 6 connections)
_DB_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")
# What may follow "{database}-" in an id prefix: the start of the timestamp, then anything
# (a kind, or whatever a later id format appends after the timestamp).
_STAMP = re.compile(r"(?P<digits>\d{0,8})(?:T[^/]*)?")


def _parse(raw: bytes, key: str) -> Manifest | None:
    try:
        return Manifest.from_json(raw, where=key)
    except IntegrityError as err:
        log.warning("skipping unreadable manifest %s: %s", key, err.message)
        return None


def _fetch(storage: Storage, key: str) -> bytes | None:
    try:
        return storage.get_bytes(key)
    except NotFoundError:
        return None  # deleted between listing and reading


def _scan(
    storage: Storage, cache: ManifestCache, prefix: str, seen: list[ObjectInfo] | None = None
) -> list[Manifest]:
    """The manifests under ``prefix``: one listing, then a GET only for what the cache lacks.

    ``seen`` receives every object the listing named, so a caller that also needs the
    objects without a manifest (``engine.prune``'s leftovers) does not list twice.
    """
    everything = list(storage.list(prefix))
    if seen is not None:
        seen.extend(everything)
    listed = {o.key: o for o in everything if o.key.endswith(MANIFEST_SUFFIX)}
    scope = storage.describe()
    known = cache.entries(scope, prefix)
    bodies: dict[str, bytes] = {}
    stale: list[str] = []
    for key, info in listed.items():
        entry = known.get(key)
        # An empty etag proves nothing: such a manifest is read every time.
        if entry is not None and info.etag and entry.etag == info.etag and entry.size == info.size:
            bodies[key] = entry.body
        else:
            stale.append(key)
    fresh: dict[str, Entry] = {}
    if stale:
        with ThreadPoolExecutor(max_workers=min(READERS, len(stale))) as pool:
            for key, raw in zip(stale, pool.map(lambda k: _fetch(storage, k), stale), strict=True):
                if raw is None:
                    continue
                bodies[key] = raw
                info = listed[key]
                if info.etag:
                    fresh[key] = Entry(info.etag, info.size, raw)
    if fresh or len(known) != len(listed) or any(k not in listed for k in known):
        cache.sync(scope, prefix, listed, fresh)
    found = (_parse(bodies[k], k) for k in sorted(bodies))
    return [m for m in found if m is not None]


def _newest_first(manifests: Iterable[Manifest]) -> list[Manifest]:
    return sorted(manifests, key=lambda m: (m.created_at, m.id), reverse=True)


def _context(
    cfg: Config, storage: Storage | None, cache: ManifestCache | None
) -> tuple[Storage, ManifestCache]:
    return storage or open_storage(cfg.storage), cache if cache is not None else ManifestCache.for_config(cfg)


def list_backups(
    cfg: Config,
    database: str | None = None,
    storage: Storage | None = None,
    cache: ManifestCache | None = None,
    seen: list[ObjectInfo] | None = None,
) -> list[Manifest]:
    """Every backup (of ``database``, if given), newest first; ``seen`` gets the whole listing."""
    storage, cache = _context(cfg, storage, cache)
    found = _scan(storage, cache, f"db/{database}/" if database else "db/", seen)
    if database:
        found = [m for m in found if m.database == database]
    return _newest_first(found)


def newest_backup(
    cfg: Config,
    database: str,
    storage: Storage | None = None,
    cache: ManifestCache | None = None,
    where: Callable[[Manifest], bool] | None = None,
) -> Manifest | None:
    """The newest backup of ``database`` (that ``where`` accepts), listing month folders newest first.

    Object keys carry the backup's UTC month (``db/DB/YYYY/MM/``), so the first month
    folder, newest first, that holds an accepted backup holds the newest one.
    """
    storage, cache = _context(cfg, storage, cache)
    for year in reversed(storage.list_dirs(f"db/{database}/")):
        for month in reversed(storage.list_dirs(year)):
            found = [m for m in _scan(storage, cache, month) if m.database == database]
            found = [m for m in found if where is None or where(m)]
            if found:
                return _newest_first(found)[0]
    return None


def id_scopes(wanted: str) -> list[str]:
    """The listing prefixes that can hold a backup whose id starts with ``wanted``.

    An id is ``{database}-{YYYYmmddTHHMMSSZ}-…`` and lives in ``db/{database}/{YYYY}/{MM}/``,
    so each way of reading ``wanted`` as "database, then the start of a timestamp" names
    one narrow prefix; ``wanted`` may also be the start of a database name. Anything after
    the timestamp is only matched against the file name, so ids that grow a suffix there
    are found the same way. Prefixes contained in another are dropped.
    """
    scopes: set[str] = set()
    if _DB_NAME.fullmatch(wanted):
        scopes.add(f"db/{wanted}")
    for i, ch in enumerate(wanted):
        if ch != "-" or not _DB_NAME.fullmatch(wanted[:i]):
            continue
        stamp = _STAMP.fullmatch(wanted[i + 1 :])
        if stamp is None:
            continue
        database, digits = wanted[:i], stamp["digits"]
        if len(digits) < 8 and len(digits) != len(wanted) - i - 1:
            continue  # "T" before a whole date: not a timestamp
        if len(digits) < 4:
            scopes.add(f"db/{database}/{digits}")
        elif len(digits) < 6:
            scopes.add(f"db/{database}/{digits[:4]}/{digits[4:]}")
        else:
            scopes.add(f"db/{database}/{digits[:4]}/{digits[4:6]}/{wanted}")
    if not scopes:
        scopes.add("db/")  # not shaped like an id at all: search everything, as a last resort
    return sorted(s for s in scopes if not any(o != s and s.startswith(o) for o in scopes))


def find_backups(
    cfg: Config, wanted: str, storage: Storage | None = None, cache: ManifestCache | None = None
) -> list[Manifest]:
    """Backups whose id starts with ``wanted``, newest first; lists only where they can be."""
    storage, cache = _context(cfg, storage, cache)
    seen: dict[str, Manifest] = {}
    for scope in id_scopes(wanted):
        for m in _scan(storage, cache, scope):
            if m.id.startswith(wanted):
                seen[m.manifest_key] = m
    return _newest_first(seen.values())


def _latest_database(cfg: Config, wanted: str) -> str:
    database = wanted.partition(":")[2]
    if database:
        return database
    if len(cfg.databases) != 1:
        n = len(cfg.databases)
        raise UsageError(
            _("'latest' needs a database"),
            detail=ngettext("{n} database is configured.", "{n} databases are configured.", n).format(n=n),
            hint=_("Write latest:<database>, e.g. latest:prod."),
        )
    return next(iter(cfg.databases))


def get_backup(
    cfg: Config, backup_id: str, storage: Storage | None = None, cache: ManifestCache | None = None
) -> Manifest:
    """By full id, unique id prefix, or ``latest:<database>``."""
    storage, cache = _context(cfg, storage, cache)
    wanted = backup_id.strip()
    if not wanted:
        raise UsageError(_("no backup id given"), hint=_("Run `backupbot list` to see the ids."))
    if wanted.startswith("latest"):
        database = _latest_database(cfg, wanted)
        newest = newest_backup(cfg, database, storage, cache)
        if newest is None:
            raise NotFoundError(
                _("there is no backup of database '{db}'").format(db=database),
                detail=_("No manifest under {prefix} in {storage}.").format(
                    prefix=f"db/{database}/", storage=storage.describe()
                ),
                hint=_("Take one with `backupbot dump --database {db}`.").format(db=database),
            )
        return newest
    matches = find_backups(cfg, wanted, storage, cache)
    exact = [m for m in matches if m.id == wanted]
    if len(exact) == 1:
        return exact[0]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise NotFoundError(
            _("no backup has the id '{id}'").format(id=wanted),
            detail=_("Searched the manifests in {storage}.").format(storage=storage.describe()),
            hint=_("Run `backupbot list` to see the ids, or use latest:<database>."),
        )
    shown = ", ".join(m.id for m in matches[:5]) + (" …" if len(matches) > 5 else "")
    raise UsageError(
        _("'{id}' matches {n} backups").format(id=wanted, n=len(matches)),
        detail=_("Candidates: {ids}.").format(ids=shown),
        hint=_("Give more of the id."),
    )


def delete_backup(cfg: Config, manifest: Manifest, storage: Storage | None = None) -> None:
    """Manifest first: an interrupted delete leaves an orphan object, never a manifest without data."""
    storage = storage or open_storage(cfg.storage)
    storage.delete(manifest.manifest_key)
    ManifestCache.for_config(cfg).forget(storage.describe(), [manifest.manifest_key])
    storage.delete(manifest.key)
    if manifest.globals_key:
        storage.delete(manifest.globals_key)
    storage.delete(
        manifest.manifest_key.removesuffix(MANIFEST_SUFFIX) + ".verify.json"
    )  # engine.verify_record


def delete_backups(
    cfg: Config, manifests: Sequence[Manifest], storage: Storage | None = None
) -> dict[str, str]:
    """Delete many backups in batches: every manifest first, then the objects of those whose
    manifest is gone. Returns backup id → why, for each backup not (wholly) deleted.

    A backup whose manifest could not be deleted keeps its object, so no manifest is ever
    left without its data; one whose object could not be deleted is no longer listed and
    leaves an orphan object, the same as an interrupted ``delete_backup``.
    """
    storage = storage or open_storage(cfg.storage)
    failed_manifests = storage.delete_many([m.manifest_key for m in manifests])
    ManifestCache.for_config(cfg).forget(
        storage.describe(), [m.manifest_key for m in manifests if m.manifest_key not in failed_manifests]
    )
    failed = {m.id: failed_manifests[m.manifest_key] for m in manifests if m.manifest_key in failed_manifests}
    gone = [m for m in manifests if m.id not in failed]
    failed_objects = storage.delete_many([m.key for m in gone] + [_verify_key(m) for m in gone])
    failed.update({m.id: failed_objects[m.key] for m in gone if m.key in failed_objects})
    return failed


def _verify_key(manifest: Manifest) -> str:
    return manifest.manifest_key.removesuffix(MANIFEST_SUFFIX) + ".verify.json"  # engine.verify_record
