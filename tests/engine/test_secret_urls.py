"""Passwords with '@' ':' '/' '%' (and a URL pasted where a variable name belongs) never show in any output."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.conftest import ConfigWriter
from tests.engine.conftest import file_setup, run_cli
from tests.support import pg

# Every piece between the special characters is distinctive, so a leak of any fragment shows.
PIECES = ("Zq9", "Xw7", "Kp5", "Um3", "Rt8", "Hy4")
RAW_PASSWORDS = [
    "Zq9@Xw7",
    "Zq9:Xw7@Kp5/Um3%Rt8",
    "Zq9/Xw7",
    "Zq9?Xw7@Kp5",
    "Zq9#Xw7",
    "Zq9%Xw7",
    "Zq9@Xw7@Kp5",
]


def leaked(text: str) -> list[str]:
    return [p for p in PIECES if p in text]


@pytest.mark.parametrize("password", RAW_PASSWORDS)
def test_unencoded_password_is_refused_without_showing_it(
    tmp_path: Path,
    write_config: ConfigWriter,
    backup_key: str,
    password: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    file_setup(write_config, tmp_path / "store", "postgresql://x@localhost/x")
    monkeypatch.setenv("APP_DUMP_URL", f"postgresql://bob:{password}@db.invalid:5432/app")
    proc = run_cli("dump", "--database", "app")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert "the connection URL in APP_DUMP_URL (database 'app') cannot be used as written" in proc.stderr
    assert "%40" in proc.stderr  # the hint says how to write it
    assert leaked(out) == [], out
    assert not (tmp_path / "store").exists() or not list((tmp_path / "store").rglob("*.json"))


def test_encoded_password_reaches_the_server_and_is_never_shown(
    tmp_path: Path, write_config: ConfigWriter, pg_db: str, backup_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    password = "Zq9@Xw7:Kp5/Um3%Rt8#Hy4"
    file_setup(write_config, tmp_path / "store", pg_db)
    dbname = pg_db.rsplit("/", 1)[1]
    # unreachable: the error names the host, not a piece of the password
    monkeypatch.setenv(
        "APP_DUMP_URL", f"postgresql://bob:{quote(password, safe='')}@db.invalid:5432/{dbname}"
    )
    proc = run_cli("dump", "--database", "app")
    assert proc.returncode != 0 and "db.invalid" in proc.stderr
    assert leaked(proc.stdout + proc.stderr) == [], proc.stderr
    # reachable (the test server trusts local connections): the dump works, the manifest keeps no password
    monkeypatch.setenv(
        "APP_DUMP_URL", f"postgresql://root:{quote(password, safe='')}@localhost:5432/{dbname}"
    )
    proc = run_cli("--json", "dump", "--database", "app")
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads(proc.stdout)
    assert manifest["source"] == f"root@localhost:5432/{dbname}"
    assert (
        leaked(
            proc.stdout + proc.stderr + (tmp_path / "store").joinpath(manifest["manifest_key"]).read_text()
        )
        == []
    )


@pytest.mark.parametrize("setting", ["dump_url_env", "restore_url_env"])
def test_url_where_a_variable_name_belongs_is_not_printed(
    tmp_path: Path, write_config: ConfigWriter, backup_key: str, setting: str
) -> None:
    path = write_config((tmp_path / "store").as_uri(), {"app": pg.url_for("postgres")})
    url = "postgresql://bob:Zq9@Xw7:Kp5/Um3%Rt8@db.example.com:5432/app"
    text = path.read_text().replace(
        f'{setting} = "APP_{setting.split("_")[0].upper()}_URL"', f'{setting} = "{url}"'
    )
    assert url in text
    path.write_text(text)
    for args in (["dump"], ["list"], ["prune"]):
        proc = run_cli(*args)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert f"setting '{setting}' in [databases.app] must name an environment variable" in proc.stderr
        assert "a connection URL" in proc.stderr
        assert leaked(proc.stdout + proc.stderr) == [] and "bob" not in proc.stderr
