"""`/backup list` at thousands of backups: a page of 15, newest first, and how to get the next."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from commands.base import Invocation
from commands.grammar import dispatch
from core.config import load_config
from jobs.store import Store
from tests.catalog.conftest import NEWEST, write_toml
from tests.support.catalog_fill import history, put_backups
from tests.support.s3count import GET, LIST, CountingProxy
from tests.support.s3server import S3Server


def test_list_pages_newest_first_and_names_the_next_page(
    s3_server: S3Server, proxy: CountingProxy, tmp_path: Path
) -> None:
    bucket = s3_server.new_bucket()
    backups = history(("prod", "staging"), 40, NEWEST, timedelta(hours=6))
    put_backups(s3_server.client(), bucket, "backups/", backups)
    cfg = load_config(str(write_toml(tmp_path, bucket, proxy.endpoint_url, ("prod", "staging"))))
    store = Store(tmp_path / "state" / "bb.sqlite3")
    prod = [m.id for m in sorted(backups, key=lambda m: m.created_at, reverse=True) if m.database == "prod"]

    def page(text: str) -> str:
        reply = dispatch(text, Invocation(user="U1", channel="C1", cfg=cfg, store=store))
        assert reply.later is not None and "Looking up backups" in reply.text
        proxy.reset()
        return reply.later().text

    try:
        first = page("list prod")
        assert "*Backups of `prod`*: 1–15 of 40, newest first" in first
        assert [line.split("`")[1] for line in first.splitlines()[1:16]] == prod[:15]
        assert "15 of 40 — `/backup list prod --page 2` shows the next 15 older." in first
        assert proxy.counts[LIST] == 2  # the catalog's, and the shown page's verification outcomes

        second = page("list prod --page 2")
        assert "16–30 of 40" in second and f"`{prod[15]}`" in second and f"`{prod[14]}`" not in second
        assert "`/backup list prod --page 3` shows the next 10 older." in second
        assert proxy.counts == {LIST: 2}  # the first page's listing filled the cache

        last = page("list prod --page 3")
        assert "31–40 of 40" in last and f"`{prod[-1]}`" in last and "--page 4" not in last
        assert "There is no page 4: 40 backups of `prod` fill 3 page(s)." in page("list prod --page 4")
        everything = page("list --page 2")
        assert "16–30 of 80" in everything and "`/backup list --page 3`" in everything
        assert proxy.counts[GET] == 40  # staging's manifests, read once

        for bad in ("list prod --page 0", "list prod --page two"):
            reply = dispatch(bad, Invocation(user="U1", channel="C1", cfg=cfg, store=store))
            assert reply.later is None and "--page must be a whole number from 1" in reply.text
    finally:
        store.close()
