"""`backupbot files …` as a pipeline or an on-call engineer runs it: a separate process, environment only."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.config import load_config
from core.errors import ConfigError
from engine.files_sync import sync_files
from tests.engine.conftest import run_cli
from tests.files.conftest import FilesFactory
from tests.support import certs


def test_sync_list_restore_at_a_date_and_verify_from_the_cli(
    files_setup: FilesFactory, tmp_path: Path
) -> None:
    setup = files_setup()
    setup.put("certs/signing.pem", certs.pem("signing.example.com", 12, with_key=True))
    setup.put("xml/invoice.xml", b"<invoice>v1</invoice>")
    first = run_cli("files", "sync", check=True)
    assert "copied 2 file(s)" in first.stdout and "+ xml/invoice.xml" in first.stdout
    again = run_cli("files", "sync", "--json", check=True)
    assert json.loads(again.stdout)["copied"] == [] and json.loads(again.stdout)["unchanged"] == 2

    # a change a day later (the engine's clock stands in for tomorrow night)
    setup.put("xml/invoice.xml", b"<invoice>v2</invoice>")
    sync_files(setup.cfg, now=datetime.now(UTC) + timedelta(days=1))
    today = f"{datetime.now(UTC):%Y-%m-%d}"

    listed = json.loads(run_cli("files", "list", "--at", today, "--json", check=True).stdout)
    assert sorted(f["path"] for f in listed["files"]) == ["certs/signing.pem", "xml/invoice.xml"]

    out = tmp_path / "invoice-then.xml"
    restored = run_cli("files", "restore", "xml/invoice.xml", "--at", today, "-o", str(out), check=True)
    assert out.read_bytes() == b"<invoice>v1</invoice>" and "(verified)" in restored.stdout
    refused = run_cli("files", "restore", "xml/invoice.xml", "-o", str(out))
    assert refused.returncode == 2 and "already exists" in refused.stderr
    assert out.read_bytes() == b"<invoice>v1</invoice>"  # not overwritten
    run_cli("files", "restore", "xml/invoice.xml", "-o", str(out), "--force", check=True)
    assert out.read_bytes() == b"<invoice>v2</invoice>"

    piped = run_cli("files", "restore", "xml/invoice.xml", "--at", today, "-o", "-", check=True)
    assert piped.stdout == "<invoice>v1</invoice>" and "(verified)" in piped.stderr

    missing = run_cli("files", "restore", "xml/invoic.xml", "-o", str(tmp_path / "x"))
    assert missing.returncode == 1 and "is not in the files backup" in missing.stderr
    assert "Did you mean xml/invoice.xml?" in missing.stderr
    before = run_cli("files", "list", "--at", "2020-01-01")
    assert before.returncode == 1 and "no backup of the application's files at 2020-01-01" in before.stderr

    verified = run_cli("files", "verify", check=True)
    assert "2 file(s) checked" in verified.stdout and "0 bad" in verified.stdout
    assert "EXPIRING  certs/signing.pem: CN=signing.example.com" in verified.stdout

    setup.put("xml/broken.xml", b"<invoice>\n<open>\n</invoice>")
    run_cli(
        "files", "sync", check=True
    )  # stamped "today", after tomorrow's record: it must still be the newest
    bad = run_cli("files", "verify")
    assert bad.returncode == 1
    assert "BAD       xml/broken.xml: malformed XML: mismatched tag at line 3" in bad.stdout


def test_config_errors_name_the_setting(files_setup: FilesFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    setup = files_setup()
    text = setup.cfg_path.read_text()
    setup.cfg_path.write_text(text.replace("prefixes =", "prefixs ="))
    with pytest.raises(ConfigError, match="unknown setting 'prefixs' in \\[files\\]"):
        load_config(str(setup.cfg_path))
    setup.cfg_path.write_text(text.replace('source_url = "s3://', 'source_url = "https://'))
    with pytest.raises(ConfigError, match="source_url"):
        load_config(str(setup.cfg_path))
    setup.cfg_path.write_text(text)
    monkeypatch.setenv("APP_FILES_SECRET", "")
    result = run_cli("files", "sync")
    assert result.returncode == 2 and "APP_FILES_SECRET is empty" in result.stderr
    no_files = setup.cfg_path.read_text().split("[files]")[0]
    setup.cfg_path.write_text(no_files)
    result = run_cli("files", "verify")
    assert result.returncode == 2 and "the application's files are not configured" in result.stderr
