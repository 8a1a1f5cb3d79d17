"""Which backups exist: read from the manifests in the bucket, the source of truth.

Why not a local index: the bot's SQLite file can be lost with its host; the bucket is what
survives, and an object without a manifest is an interrupted upload, not a backup.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from adapters.storage import Storage, open_storage
from core.config import Config
from core.errors import IntegrityError, NotFoundError, UsageError
from engine.manifest import MANIFEST_SUFFIX, Manifest, manifest_key_from_id

log = logging.getLogger(__name__)


def _read(storage: Storage, key: str) -> Manifest | None:
    try:
        return Manifest.from_json(storage.get_bytes(key), where=key)
    except IntegrityError as err:
        log.warning("skipping unreadable manifest %s: %s", key, err.message)
        return None
    except NotFoundError:
        return None  # deleted between listing and reading


def list_backups(cfg: Config, database: str | None = None, storage: Storage | None = None) -> list[Manifest]:
    """Every backup (of ``database``, if given), newest first."""
    storage = storage or open_storage(cfg.storage)
    prefix = f"db/{database}/" if database else "db/"
    keys = [o.key for o in storage.list(prefix) if o.key.endswith(MANIFEST_SUFFIX)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        found = [m for m in pool.map(lambda k: _read(storage, k), keys) if m is not None]
    if database:
        found = [m for m in found if m.database == database]
    found.sort(key=lambda m: (m.created_at, m.id), reverse=True)
    return found


def get_backup(cfg: Config, backup_id: str, storage: Storage | None = None) -> Manifest:
    """By full id, unique id prefix, or ``latest:<database>``."""
    storage = storage or open_storage(cfg.storage)
    wanted = backup_id.strip()
    if not wanted:
        raise UsageError("no backup id given", hint="Run `backupbot list` to see the ids.")
    if wanted.startswith("latest"):
        _, _, database = wanted.partition(":")
        if not database:
            if len(cfg.databases) != 1:
                raise UsageError(
                    "'latest' needs a database",
                    detail=f"{len(cfg.databases)} databases are configured.",
                    hint="Write latest:<database>, e.g. latest:prod.",
                )
            database = next(iter(cfg.databases))
        backups = list_backups(cfg, database, storage)
        if not backups:
            raise NotFoundError(
                f"there is no backup of database '{database}'",
                detail=f"No manifest under db/{database}/ in {storage.describe()}.",
                hint=f"Take one with `backupbot dump --database {database}`.",
            )
        return backups[0]
    direct = manifest_key_from_id(wanted)
    if direct is not None:
        try:
            return Manifest.from_json(storage.get_bytes(direct), where=direct)
        except NotFoundError:
            pass
    matches = [m for m in list_backups(cfg, None, storage) if m.id.startswith(wanted)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise NotFoundError(
            f"no backup has the id '{wanted}'",
            detail=f"Searched the manifests in {storage.describe()}.",
            hint="Run `backupbot list` to see the ids, or use latest:<database>.",
        )
    shown = ", ".join(m.id for m in matches[:5]) + (" …" if len(matches) > 5 else "")
    raise UsageError(
        f"'{wanted}' matches {len(matches)} backups",
        detail=f"Candidates: {shown}.",
        hint="Give more of the id.",
    )


def delete_backup(cfg: Config, manifest: Manifest, storage: Storage | None = None) -> None:
    """Manifest first: an interrupted delete leaves an orphan object, never a manifest without data."""
    storage = storage or open_storage(cfg.storage)
    storage.delete(manifest.manifest_key)
    storage.delete(manifest.key)
    if manifest.globals_key:
        storage.delete(manifest.globals_key)
    storage.delete(
        manifest.manifest_key.removesuffix(MANIFEST_SUFFIX) + ".verify.json"
    )  # engine.verify_record
