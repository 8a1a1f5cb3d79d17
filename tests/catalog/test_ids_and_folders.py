"""Where an id can live, and the local-folder store keeping the same promises as S3."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from adapters.storage import open_storage
from core.config import StorageConfig
from engine.catalog import find_backups, get_backup, id_scopes, list_backups
from engine.manifest_cache import ManifestCache
from tests.catalog.conftest import NEWEST
from tests.support.catalog_fill import fake_manifest


@pytest.mark.parametrize(
    ("wanted", "scopes"),
    [
        ("prod-20261120T120000Z-daily", ["db/prod/2026/11/prod-20261120T120000Z-daily"]),
        # a suffix after the timestamp (a later id format) is only matched against the file name
        ("prod-20261120T120000Z-3f9a-daily", ["db/prod/2026/11/prod-20261120T120000Z-3f9a-daily"]),
        ("prod-20261120T12", ["db/prod/2026/11/prod-20261120T12"]),
        ("prod-202611", ["db/prod-202611", "db/prod/2026/11/prod-202611"]),
        ("prod-2026", ["db/prod-2026", "db/prod/2026/"]),
        ("prod-20", ["db/prod-20", "db/prod/20"]),
        ("prod", ["db/prod"]),
        ("prod-", ["db/prod-", "db/prod/"]),  # "prod-" may also begin a name such as "prod-eu"
        ("prod-eu-20261120T1", ["db/prod-eu/2026/11/prod-eu-20261120T1"]),
        ("db-2024-20261120T1", ["db/db-2024/2026/11/db-2024-20261120T1"]),
        ("PROD-2026", ["db/"]),  # not shaped like an id: everything is searched, as before
        ("prod-20261120T/../x", ["db/"]),  # never a path outside the database's folders
    ],
)
def test_an_id_names_the_folders_it_can_be_in(wanted: str, scopes: list[str]) -> None:
    assert id_scopes(wanted) == scopes


def test_the_local_folder_store_keeps_the_cache_honest(tmp_path: Path) -> None:
    storage = open_storage(StorageConfig(url=(tmp_path / "store").as_uri(), sse="none"))
    cache = ManifestCache(tmp_path / "cache.sqlite3")
    backups = [fake_manifest("prod", NEWEST - timedelta(days=12 * k)) for k in range(6)]
    for m in backups:
        storage.put_bytes(m.key, m.id.encode())
        storage.put_bytes(m.manifest_key, m.to_json())
    assert storage.list_dirs("db/prod/") == ["db/prod/2026/"]
    assert storage.list_dirs("db/prod/2026/") == ["db/prod/2026/09/", "db/prod/2026/10/", "db/prod/2026/11/"]
    assert all(o.etag for o in storage.list("db/"))

    def listed() -> list[str]:
        return [m.id for m in list_backups(None, "prod", storage, cache)]  # type: ignore[arg-type]

    assert listed() == [m.id for m in backups]
    backups[2].reason = "rewritten in place"
    storage.put_bytes(backups[2].manifest_key, backups[2].to_json())
    storage.delete(backups[0].manifest_key)
    assert listed() == [m.id for m in backups[1:]]
    [again] = find_backups(None, backups[2].id, storage, cache)  # type: ignore[arg-type]
    assert again.reason == "rewritten in place"
    newest = get_backup(None, "latest:prod", storage, cache)  # type: ignore[arg-type]
    assert newest.id == backups[1].id
