"""What each catalog command costs on the wire, with the cache cold and warm.

The counts are read at the S3 server's door (``CountingProxy``), from whole ``backupbot``
commands. A warm cache means the listing is the only thing asked of the bucket: LIST
requests (one per 1,000 keys) and no GET; a cold one reads each manifest it needs once.
"""

from __future__ import annotations

import math

import pytest

from tests.catalog.conftest import DATABASES, Catalog
from tests.support.s3count import GET, LIST


def keys_of(big: Catalog, database: str | None = None) -> int:
    return 2 * sum(1 for m in big.manifests if database in (None, m.database))  # manifest + object


def test_warm_list_makes_list_requests_only(big: Catalog, capsys: pytest.CaptureFixture[str]) -> None:
    big.drop_cache()
    code, cold, _ = big.run(capsys, "list")
    assert code == 0
    assert big.proxy.counts[GET] == len(big.manifests)  # cold: every manifest once
    expected = sorted(big.manifests, key=lambda m: m.created_at, reverse=True)
    assert [b["id"] for b in cold] == [m.id for m in expected]

    code, warm, _ = big.run(capsys, "list")
    assert code == 0 and warm == cold
    lists = math.ceil(keys_of(big) / 1000)
    assert lists == 2  # the bucket is bigger than one listing page
    # nothing but listings: the catalog's, and one of each database for verification outcomes
    assert big.proxy.counts == {LIST: lists + len(DATABASES)}

    code, prod, _ = big.run(capsys, "list", "--database", "prod")
    assert code == 0 and {b["database"] for b in prod} == {"prod"}
    assert len(prod) == len(big.manifests) // len(DATABASES)
    assert big.proxy.counts == {LIST: 2}  # only db/prod/ is listed (and again for verification outcomes)


def test_show_latest_lists_the_newest_month_and_stops(
    big: Catalog, capsys: pytest.CaptureFixture[str]
) -> None:
    newest = big.newest("staging")
    month = [
        m for m in big.manifests if m.database == "staging" and m.key.startswith(newest.key.rsplit("/", 1)[0])
    ]
    assert 0 < len(month) < len(big.manifests) // len(DATABASES)

    big.drop_cache()
    code, shown, _ = big.run(capsys, "show", "latest:staging")
    assert code == 0 and shown["id"] == newest.id
    # the year folders, the month folders of the newest year, then that month's keys
    assert big.proxy.counts[LIST] == 3
    assert big.proxy.counts[GET] == len(month)  # cold: only the newest month's manifests

    code, again, _ = big.run(capsys, "show", "latest:staging")
    assert code == 0 and again == shown
    assert big.proxy.counts == {LIST: 3}


def test_an_id_or_prefix_lists_only_its_database_and_month(
    big: Catalog, capsys: pytest.CaptureFixture[str]
) -> None:
    target = sorted((m for m in big.manifests if m.database == "dev"), key=lambda m: m.created_at)[100]
    prefix = target.id[: len("dev-20261005T0500")]  # down to the minute: unique here
    big.drop_cache()
    code, shown, _ = big.run(capsys, "show", prefix)
    assert code == 0 and shown["id"] == target.id
    assert big.proxy.counts == {LIST: 1, GET: 1}  # db/dev/YYYY/MM/<prefix>…, and its one manifest

    code, shown, _ = big.run(capsys, "show", target.id)
    assert code == 0 and shown["id"] == target.id
    assert big.proxy.counts == {LIST: 1}  # warm: the listing only

    month = target.id[: len("dev-202610")]
    in_month = [m for m in big.manifests if m.id.startswith(month)]
    code, _, err = big.run(capsys, "show", month)
    assert code != 0 and f"'{month}' matches {len(in_month)} backups" in err
    # "dev-202610" could also begin a database's name ("dev-202610…"): one more small listing
    assert big.proxy.counts[LIST] == 2
    assert big.proxy.counts[GET] == len(in_month) - 1  # all but the one read above

    code, _, err = big.run(capsys, "show", "dev-20200101T000000Z-daily")
    assert code != 0 and "no backup has the id 'dev-20200101T000000Z-daily'" in err
    assert big.proxy.counts == {LIST: 1}
