"""Reading the ``[files]`` section: the application's bucket whose certificates and XML are kept too.

Apart from ``core.config`` because it is one optional section with its own rules (a source
URL that must be S3, glob patterns, a table of password variable names); the loader calls
``parse_files`` and gets ``None`` when the section is absent.
"""

from __future__ import annotations

from typing import Any

from core.config_types import FilesConfig, setting_at
from core.errors import ConfigError
from core.i18n import _


def parse_files(table: Any, path: str, build: Any) -> FilesConfig | None:
    """``build`` is the loader's checked dataclass constructor (names and types)."""
    if table is None:
        return None
    where = "[files]"
    if not isinstance(table, dict):
        raise ConfigError(
            _("{where} must be a table").format(where=where),
            detail=setting_at(path, f"files = {table!r}"),
            hint=_("Write it as {where}.").format(where="[files]"),
        )
    table = dict(table)
    url = table.get("source_url")
    if not isinstance(url, str) or not url.startswith("s3://") or not url[5:].split("/")[0]:
        raise ConfigError(
            _('[files] needs the application\'s bucket as source_url = "s3://BUCKET/prefix"'),
            detail=setting_at(path, f"[files] source_url = {url!r}"),
            hint=_(
                'Write source_url = "s3://app-bucket" (the bucket the app keeps its certificates and XML in).'
            ),
        )
    envs = table.pop("password_envs", {})
    if not isinstance(envs, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in envs.items()
    ):
        raise ConfigError(
            _("[files] password_envs must map path patterns to environment variable names"),
            detail=setting_at(path, f"[files] password_envs = {envs!r}"),
            hint=_('Write it as [files.password_envs] "certs/signing/*.p12" = "SIGNING_P12_PASSWORD".'),
        )
    files: FilesConfig = build(FilesConfig, table, where, path, password_envs=dict(envs))
    if files.expiry_warning_days < 0 or files.max_attempts < 1:
        raise ConfigError(
            _("[files] expiry_warning_days must be 0 or more and max_attempts at least 1"),
            detail=setting_at(
                path,
                f"expiry_warning_days = {files.expiry_warning_days}, max_attempts = {files.max_attempts}",
            ),
            hint=_("Use e.g. expiry_warning_days = 30."),
        )
    if bool(files.access_key_id_env) != bool(files.secret_access_key_env):
        raise ConfigError(
            _("[files] needs both access_key_id_env and secret_access_key_env, or neither"),
            detail=_("{path}: only one of them is set.").format(path=path),
            hint=_(
                "Name both environment variables, or remove both to use the same credentials as [storage]."
            ),
        )
    for prefix in files.prefixes:
        if not prefix or prefix.startswith("/") or ".." in prefix.split("/"):
            raise ConfigError(
                _("[files] prefix {prefix} is not a key prefix").format(prefix=repr(prefix)),
                detail=setting_at(path, f"[files] prefixes = {list(files.prefixes)!r}"),
                hint=_('Use prefixes relative to source_url, e.g. ["certs/", "xml/"].'),
            )
    return files
