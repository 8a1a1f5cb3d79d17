"""The swap records in the store: updated atomically by concurrent writers, pruned after their time.

Runs on both state backends (SQLite and PostgreSQL): two writers at once must never lose
each other's fields, and a record whose kept database is long gone must not stay forever.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.config import parse_config
from engine import restore_swap
from jobs.store import Store

pytestmark = pytest.mark.usefixtures("state_backend")


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "bb.sqlite3")
    yield s
    s.close()


def test_two_writers_at_once_keep_every_update(store: Store, tmp_path: Path) -> None:
    stores = [Store(tmp_path / "bb.sqlite3"), Store(tmp_path / "bb.sqlite3")]
    errors: list[BaseException] = []

    def write(st: Store, tag: str) -> None:
        try:
            for i in range(20):
                restore_swap.remember(st, f"r-{tag}-{i}", phase="building", target="staging")
                restore_swap.remember(st, "shared", **{f"{tag}{i}": i})
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(st, tag)) for st, tag in zip(stores, "ab", strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for st in stores:
        st.close()
    assert errors == []
    recs = restore_swap.records(store)
    assert len([k for k in recs if k.startswith("r-")]) == 40
    shared = recs["shared"]
    assert all(shared.get(f"a{i}") == i and shared.get(f"b{i}") == i for i in range(20))
    assert shared["restore_id"] == "shared" and shared["created_at"] <= shared["updated_at"]


def test_records_of_databases_long_dropped_are_deleted(store: Store, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    restore_swap.remember(store, "dropped-long-ago", phase="dropped", target="staging")
    restore_swap.remember(store, "discarded-long-ago", phase="discarded", target="staging")
    restore_swap.remember(store, "still-kept", phase="switched", target="staging")
    old = (now - timedelta(days=91)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    with store.transaction() as db:
        for rid in ("dropped-long-ago", "discarded-long-ago", "still-kept"):
            db.execute("UPDATE kv SET updated_at = ? WHERE key = ?", [old, restore_swap.PREFIX + rid])
    restore_swap.remember(store, "dropped-lately", phase="dropped", target="staging")

    assert restore_swap.prune_records(store, now) == 2
    assert set(restore_swap.records(store)) == {"still-kept", "dropped-lately"}

    # The scheduler's pass (drop_expired) prunes too: 91 days on, the recent drop goes as well.
    cfg = parse_config({"storage": {"url": (tmp_path / "s").as_uri(), "sse": "none"}}, "t.toml")
    assert restore_swap.drop_expired(cfg, store, now + timedelta(days=91)) == []
    assert set(restore_swap.records(store)) == {"still-kept"}


def test_records_kept_in_one_value_before_are_still_found(store: Store) -> None:
    store.kv_set(
        restore_swap.LEGACY_KEY,
        {"old-1": {"restore_id": "old-1", "phase": "switched", "target": "staging", "previous": "x_before"}},
    )
    restore_swap.remember(store, "old-1", phase="undone")
    rec = restore_swap.find(store, "old-1")
    assert rec["phase"] == "undone" and rec["previous"] == "x_before"
    assert store.kv_get(restore_swap.LEGACY_KEY) is None
