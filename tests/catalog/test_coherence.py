"""The bucket stays the truth: what another process does to it shows at the next listing.

Another process here is a second boto3 client writing and deleting keys directly — what
the CLI on a CI runner or a second bot does — while this machine's cache remembers the
old state. The cache may save requests; it may never decide what exists.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from cli.main import main
from tests.catalog.conftest import NEWEST, Catalog, write_toml
from tests.support.catalog_fill import fake_manifest, history, put_backups
from tests.support.s3count import GET, LIST, CountingProxy
from tests.support.s3server import S3Server


@pytest.fixture
def small(s3_server: S3Server, proxy: CountingProxy, tmp_path: Path) -> Catalog:
    bucket = s3_server.new_bucket()
    manifests = history(("prod",), 12, NEWEST, timedelta(days=5))  # two months
    put_backups(s3_server.client(), bucket, "backups/", manifests)
    return Catalog(write_toml(tmp_path, bucket, proxy.endpoint_url, ("prod",)), proxy, bucket, manifests)


def ids(listing: list[dict]) -> list[str]:
    return [b["id"] for b in listing]


def test_added_deleted_and_rewritten_manifests_show_at_the_next_list(
    small: Catalog, s3_server: S3Server, capsys: pytest.CaptureFixture[str]
) -> None:
    other = s3_server.client()
    code, before, _ = small.run(capsys, "list")
    assert code == 0 and len(before) == 12 and small.proxy.counts[GET] == 12
    newest = small.newest("prod")

    added = fake_manifest("prod", NEWEST + timedelta(hours=1), kind="manual", reason="added by CI")
    put_backups(other, small.bucket, "backups/", [added])
    gone = before[5]["id"]
    gone_key = next(m for m in small.manifests if m.id == gone).manifest_key
    other.delete_object(Bucket=small.bucket, Key=f"backups/{gone_key}")
    rewritten = next(m for m in small.manifests if m.id == before[3]["id"])
    rewritten.reason = "reason corrected in place"
    other.put_object(Bucket=small.bucket, Key=f"backups/{rewritten.manifest_key}", Body=rewritten.to_json())

    code, after, _ = small.run(capsys, "list")
    assert code == 0
    assert ids(after)[0] == added.id and after[0]["reason"] == "added by CI"
    assert gone not in ids(after) and len(after) == 12
    assert next(b for b in after if b["id"] == rewritten.id)["reason"] == "reason corrected in place"
    # the new one and the rewritten one; the second LIST finds verification outcomes
    assert small.proxy.counts == {LIST: 2, GET: 2}

    # a cached entry never makes a deleted backup exist, for any way of asking for it
    code, _, err = small.run(capsys, "show", gone)
    assert code != 0 and f"no backup has the id '{gone}'" in err
    other.delete_object(Bucket=small.bucket, Key=f"backups/{added.manifest_key}")
    code, latest, _ = small.run(capsys, "show", "latest:prod")
    assert code == 0 and latest["id"] == newest.id


def test_deleting_the_cache_loses_nothing(small: Catalog, capsys: pytest.CaptureFixture[str]) -> None:
    code, warm, _ = small.run(capsys, "list")
    assert code == 0
    small.drop_cache()
    assert not small.cache_file.exists()
    code, rebuilt, _ = small.run(capsys, "list")
    assert code == 0 and rebuilt == warm
    assert small.proxy.counts[GET] == 12  # read again from the bucket
    assert small.cache_file.exists()
    code, again, _ = small.run(capsys, "list")
    assert again == warm and small.proxy.counts == {
        LIST: 2
    }  # and one listing of each database for verification outcomes (engine.verify_record)


def test_a_damaged_cache_is_replaced(small: Catalog, capsys: pytest.CaptureFixture[str]) -> None:
    small.run(capsys, "list")
    small.drop_cache()
    small.cache_file.write_bytes(b"this is not a database" * 100)
    code, listing, _ = small.run(capsys, "list")
    assert code == 0 and len(listing) == 12 and small.proxy.counts[GET] == 12
    code, _, _ = small.run(capsys, "list")
    assert code == 0 and small.proxy.counts == {
        LIST: 2
    }  # and one listing of each database for verification outcomes (engine.verify_record)


def test_without_a_state_directory_every_manifest_is_read(
    small: Catalog, capsys: pytest.CaptureFixture[str]
) -> None:
    state = small.config.parent / "state"
    small.drop_cache()
    state.rmdir()
    for _ in range(2):
        code, listing, _ = small.run(capsys, "list")
        assert code == 0 and len(listing) == 12
        assert small.proxy.counts == {
            LIST: 2,
            GET: 12,
        }  # and one listing of each database for verification outcomes (engine.verify_record)
    assert not state.exists()  # a CI runner's checkout is not given a state directory


def test_cli_list_limit_shows_the_newest(small: Catalog, capsys: pytest.CaptureFixture[str]) -> None:
    code, everything, _ = small.run(capsys, "list")
    code, newest, _ = small.run(capsys, "list", "--limit", "3")
    assert code == 0 and newest == everything[:3]
    capsys.readouterr()
    assert main(["--config", str(small.config), "list", "--limit", "3"]) == 0
    out = capsys.readouterr()
    assert len(out.out.splitlines()) == 4  # header and three rows
    assert "(3 of 12 shown, newest first; without --limit all are listed)" in out.err


def test_verification_outcomes_are_read_once_and_follow_the_bucket(
    small: Catalog, s3_server: S3Server, capsys: pytest.CaptureFixture[str]
) -> None:
    """A warm list of verified backups asks listings only; a rewritten or deleted outcome shows at once."""
    other = s3_server.client()
    verified = small.manifests[:3]

    def put_outcome(m: Any, result: str) -> str:
        key = f"backups/{m.manifest_key.removesuffix('.manifest.json')}.verify.json"
        other.put_object(Bucket=small.bucket, Key=key, Body=json.dumps({"result": result}).encode())
        return key

    keys = [put_outcome(m, "passed") for m in verified]
    code, cold, _ = small.run(capsys, "list")
    assert code == 0 and small.proxy.counts[GET] == len(small.manifests) + len(verified)
    assert {b["id"] for b in cold if b["verification"]} == {m.id for m in verified}

    code, warm, _ = small.run(capsys, "list")
    assert code == 0 and warm == cold
    assert small.proxy.counts[GET] == 0, "a warm list reads no manifest and no verification outcome"

    put_outcome(verified[0], "failed")
    other.delete_object(Bucket=small.bucket, Key=keys[1])
    code, after, _ = small.run(capsys, "list")
    assert code == 0 and small.proxy.counts[GET] == 1  # only the rewritten outcome
    outcome = {b["id"]: b["verification"] for b in after}
    assert outcome[verified[0].id] == {"result": "failed"}
    assert outcome[verified[1].id] is None and outcome[verified[2].id] == {"result": "passed"}
