"""The app's bucket may need other credentials than the backup bucket: a profile or named variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.storage.source import open_source
from core.config_types import FilesConfig
from core.errors import ConfigError


def creds(files: FilesConfig) -> tuple[str, str]:
    c = open_source(files)._s3.client._request_signer._credentials.get_frozen_credentials()
    return c.access_key, c.secret_key


def test_named_variables_and_profiles(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "backup-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "backup-secret")
    assert creds(FilesConfig(source_url="s3://app")) == ("backup-key", "backup-secret")  # default: same chain

    monkeypatch.setenv("APP_KEY", "app-key")
    monkeypatch.setenv("APP_SECRET", "app-secret")
    named = FilesConfig(
        source_url="s3://app", access_key_id_env="APP_KEY", secret_access_key_env="APP_SECRET"
    )
    assert creds(named) == ("app-key", "app-secret")

    (tmp_path / "credentials").write_text(
        "[app]\naws_access_key_id = profile-key\naws_secret_access_key = profile-secret\n"
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    assert creds(FilesConfig(source_url="s3://app", profile="app")) == ("profile-key", "profile-secret")
    with pytest.raises(ConfigError, match="cannot open the application's bucket"):
        open_source(FilesConfig(source_url="s3://app", profile="nope"))
    monkeypatch.setenv("APP_SECRET", "")
    with pytest.raises(ConfigError, match="APP_SECRET is empty"):
        open_source(named)
