"""The shape of a deployment: one TOML file for structure, the environment for secrets.

Twelve-factor split: ``backupbot.toml`` says which databases exist, where backups go,
who may approve what; passwords, tokens and keys are only ever *names* of environment
variables in the file. A wrong or missing setting fails at load time with one message
that names the setting, the file and the fix, so a pipeline never half-runs on a typo.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from pathlib import Path
from typing import Any

from core.config_checks import check_config
from core.config_files import parse_files
from core.config_types import (
    BACKUP_KINDS,
    DB_NAME_RE,
    DEFAULT_CONFIG,
    PRE_EVENT_KINDS,
    AlertsConfig,
    Config,
    DatabaseConfig,
    EncryptionConfig,
    NeonConfig,
    RetentionPolicy,
    RunnerConfig,
    SlackConfig,
    StateConfig,
    StorageConfig,
    VerifyConfig,
)
from core.dburl import is_env_name
from core.errors import ConfigError
from core.i18n import DEFAULT_LOCALE, SUPPORTED_LOCALES, set_locale

__all__ = [
    "BACKUP_KINDS",
    "DB_NAME_RE",
    "DEFAULT_CONFIG",
    "PRE_EVENT_KINDS",
    "AlertsConfig",
    "Config",
    "DatabaseConfig",
    "EncryptionConfig",
    "NeonConfig",
    "RetentionPolicy",
    "RunnerConfig",
    "SlackConfig",
    "StateConfig",
    "StorageConfig",
    "VerifyConfig",
    "default_state_dir",
    "state_dir_origin",
    "user_state_dir",
    "embedded_default",
    "load_config",
    "parse_config",
]

# ---------------------------------------------------------------- loading

_SECTIONS = {
    "storage",
    "encryption",
    "databases",
    "slack",
    "runner",
    "alerts",
    "retention",
    "neon",
    "files",
    "verify",
    "state",
}
# Every field of Config but the file's own path may be written at the top level: a section
# added to the dataclass is accepted here without another list to keep in step.
_TOP_LEVEL = _SECTIONS | {f for f in Config.__dataclass_fields__ if f != "path"}


def _check_keys(table: dict[str, Any], allowed: set[str], where: str, path: str) -> None:
    for key in table:
        if key not in allowed:
            close = difflib.get_close_matches(key, sorted(allowed), n=1)
            raise ConfigError(
                f"unknown setting '{key}' in {where}",
                detail=f"{path} has '{key}' under {where}; known settings there: {', '.join(sorted(allowed))}.",
                hint=f"Did you mean '{close[0]}'?"
                if close
                else "Remove it or check the example file backupbot.example.toml.",
            )


def _typed(table: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str, path: str) -> Any:
    value = table[key]
    ok = isinstance(value, kind) and not (kind in (int, float, (int, float)) and isinstance(value, bool))
    if not ok:
        want = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ConfigError(
            f"setting '{key}' in {where} has the wrong type",
            detail=f"{path}: {where}.{key} = {value!r} is a {type(value).__name__}, expected {want}.",
            hint="Fix the value in the file; see backupbot.example.toml for the form each setting takes.",
        )
    return value


def _build(cls: type, table: dict[str, Any], where: str, path: str, **extra: Any) -> Any:
    """Construct a frozen dataclass from a TOML table, checking names and types."""
    fields = {f.name: f for f in cls.__dataclass_fields__.values()}  # type: ignore[attr-defined]
    allowed = set(fields) - set(extra) - {"name", "config_file"}
    _check_keys(table, allowed, where, path)
    kwargs: dict[str, Any] = dict(extra)
    for key, value in table.items():
        default = fields[key].default
        if isinstance(default, tuple) or (isinstance(default, str) and isinstance(value, list)):
            if isinstance(value, str) and key.startswith("maintenance_"):
                kwargs[key] = value
                continue
            _typed(table, key, list, where, path)
            if not all(isinstance(v, str) for v in value):
                raise ConfigError(
                    f"setting '{key}' in {where} must be a list of strings",
                    detail=f"{path}: {where}.{key} = {value!r}.",
                    hint='Write it as ["a", "b"].',
                )
            kwargs[key] = tuple(value)
        elif isinstance(default, bool):
            kwargs[key] = _typed(table, key, bool, where, path)
        elif isinstance(default, float):
            kwargs[key] = float(_typed(table, key, (int, float), where, path))
        elif isinstance(default, int):
            kwargs[key] = _typed(table, key, int, where, path)
        elif isinstance(default, str) or default is None:
            kwargs[key] = _typed(table, key, str, where, path)
        else:
            kwargs[key] = value
        if key.endswith(("_env", "_envs")):
            _env_names(key, kwargs[key], where, path)
    return cls(**kwargs)


def _env_names(key: str, value: Any, where: str, path: str) -> None:
    """A ``*_env`` setting holds the NAME of a variable; a secret pasted there is never echoed."""
    for name in (value,) if isinstance(value, str) else value or ():
        if not name or is_env_name(name):
            continue
        looks = "a connection URL" if "://" in name else "not a variable name"
        raise ConfigError(
            f"setting '{key}' in {where} must name an environment variable",
            detail=f"{path}: {where}.{key} holds {looks} (not shown: it may contain a password).",
            hint=f'Put the value in an environment variable and name it: {key} = "PROD_DUMP_URL", '
            "then export PROD_DUMP_URL=… where backupbot runs. Rotate the password if the file was shared.",
        )


def _nonneg(value: int, key: str, where: str, path: str) -> None:
    if value < 0:
        raise ConfigError(
            f"setting '{key}' in {where} is negative",
            detail=f"{path}: {where}.{key} = {value}.",
            hint="Use 0 to turn a rule off, or a positive number.",
        )


def _one_of(value: str, allowed: tuple[str, ...], key: str, where: str, path: str, hint: str) -> None:
    """A setting that takes one of two words; the hint names the one to pick when in doubt."""
    if value not in allowed:
        raise ConfigError(
            f'{key} must be "{allowed[0]}" or "{allowed[1]}"', detail=f"{path}: {where}.", hint=hint
        )


def _retention(table: Any, where: str, path: str, base: RetentionPolicy) -> RetentionPolicy:
    if not isinstance(table, dict):
        raise ConfigError(
            f"{where} must be a table", detail=f"{path}: {where} = {table!r}.", hint=f"Write it as [{where}]."
        )
    merged = {**base.__dict__, **table}
    policy = _build(RetentionPolicy, {k: merged[k] for k in table} | {}, where, path)
    policy = RetentionPolicy(**{**base.__dict__, **{k: getattr(policy, k) for k in table}})
    for key, value in policy.__dict__.items():
        _nonneg(value, key, where, path)
    return policy


def user_state_dir() -> Path:
    """``$XDG_STATE_HOME/backupbot``, else ``~/.local/state/backupbot``: this user's, wherever they run from."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "backupbot"


def default_state_dir(config_path: str | None = None) -> str:
    """``$BACKUPBOT_STATE_DIR`` or the per-user state directory.

    Why not beside the config file, as before: ``--config /tmp/x.toml`` then silently
    created ``/tmp/state``, and two configs in one folder shared one job store. A deployment
    that wants another place says so (``state_dir`` in the file, or the variable).
    """
    return os.environ.get("BACKUPBOT_STATE_DIR") or str(user_state_dir())


def _state_dir(raw: dict[str, Any], path: str) -> str:
    """The variable, else ``state_dir`` in the file (relative to the file), else the per-user default."""
    if os.environ.get("BACKUPBOT_STATE_DIR") or "state_dir" not in raw:
        return default_state_dir()
    value = raw["state_dir"]
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(
            "state_dir must be a folder path",
            detail=f"{path}: state_dir = {value!r}.",
            hint='Write state_dir = "/var/lib/backupbot" (relative paths are read from the config file\'s folder), '
            "or remove it to use the per-user state directory.",
        )
    return str((Path(path).resolve().parent / Path(value).expanduser()).resolve())


def state_dir_origin(cfg: Config) -> str:
    """Where ``cfg.state_dir`` came from, for the line that tells people where state is kept."""
    if os.environ.get("BACKUPBOT_STATE_DIR"):
        return "from BACKUPBOT_STATE_DIR"
    if cfg.state_dir != str(user_state_dir()):
        return f"from state_dir in {cfg.path}"
    return "the per-user default; set state_dir in the config or BACKUPBOT_STATE_DIR to change it"


def embedded_default() -> Config:
    """What runs when there is no config file: a local store and $DATABASE_URL as database 'app'."""
    state_dir = default_state_dir(None)
    databases: dict[str, DatabaseConfig] = {}
    databases["app"] = DatabaseConfig(
        name="app",
        dump_url_env="DATABASE_URL",
        restore_url_env="DATABASE_URL",
        migrate=(),
        config_file="<embedded default>",
    )
    store = Path(state_dir) / "store" if os.environ.get("BACKUPBOT_STATE_DIR") else Path.cwd() / "store"
    return Config(
        path="<embedded default>",
        storage=StorageConfig(url=store.resolve().as_uri(), sse="none"),
        encryption=EncryptionConfig(),
        databases=databases,
        state_dir=state_dir,
    )


def load_config(path: str | None = None) -> Config:
    """Load the config named by ``path``, ``$BACKUPBOT_CONFIG`` or ./backupbot.toml.

    With no explicit path and no file at the default place, the embedded default is
    used, so a newcomer can try the console before writing any config.
    """
    explicit = path or os.environ.get("BACKUPBOT_CONFIG")
    chosen = explicit or DEFAULT_CONFIG
    if not Path(chosen).exists():
        if explicit:
            raise ConfigError(
                f"config file {chosen} does not exist",
                detail="It was named by --config or BACKUPBOT_CONFIG.",
                hint="Copy backupbot.example.toml to that path and edit it, or unset BACKUPBOT_CONFIG to use ./backupbot.toml.",
            )
        set_locale(DEFAULT_LOCALE)
        return embedded_default()
    try:
        with open(chosen, "rb") as fh:
            raw = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"config file {chosen} is not valid TOML",
            detail=str(exc),
            hint="Fix the syntax at the line named above; backupbot.example.toml shows every setting.",
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"cannot read config file {chosen}", detail=exc.strerror, hint="Check the path and permissions."
        ) from None
    return parse_config(raw, chosen)


def parse_config(raw: dict[str, Any], path: str) -> Config:
    _check_keys(raw, _TOP_LEVEL, "the top level", path)
    for section in _SECTIONS:
        if section in raw and not isinstance(raw[section], dict):
            raise ConfigError(
                f"'{section}' must be a table",
                detail=f"{path}: {section} = {raw[section]!r}.",
                hint=f"Write it as [{section}].",
            )

    storage_raw = raw.get("storage")
    if not storage_raw or not storage_raw.get("url"):
        raise ConfigError(
            "no storage is configured",
            detail=f"{path} has no [storage] url.",
            hint='Add [storage] url = "s3://bucket/prefix" (or "file:///var/lib/backupbot/store").',
        )
    storage = _build(StorageConfig, storage_raw, "[storage]", path)
    if not (storage.url.startswith("s3://") or storage.url.startswith("file://")):
        raise ConfigError(
            "storage url must start with s3:// or file://",
            detail=f"{path}: [storage] url = {storage.url!r}.",
            hint='Use "s3://bucket/prefix" for S3 and S3-compatible stores, "file:///path" for a local folder.',
        )
    if storage.url.startswith("s3://") and not storage.url[5:].split("/")[0]:
        raise ConfigError(
            "storage url names no bucket",
            detail=f"{path}: [storage] url = {storage.url!r}.",
            hint='Write "s3://BUCKET/prefix".',
        )
    if storage.sse not in ("AES256", "aws:kms", "none"):
        raise ConfigError(
            f"unknown server-side encryption '{storage.sse}'",
            detail=f"{path}: [storage] sse = {storage.sse!r}.",
            hint='Use "AES256" (default) or "aws:kms" with kms_key_id.',
        )
    if storage.sse == "aws:kms" and not storage.kms_key_id:
        raise ConfigError(
            'sse = "aws:kms" needs a key id',
            detail=f'{path}: [storage] has sse = "aws:kms" but no kms_key_id.',
            hint='Add kms_key_id = "arn:aws:kms:…" or use sse = "AES256".',
        )
    if storage.object_lock_mode not in ("", "GOVERNANCE", "COMPLIANCE"):
        raise ConfigError(
            f"unknown object lock mode '{storage.object_lock_mode}'",
            detail=f"{path}: [storage] object_lock_mode.",
            hint='Use "GOVERNANCE", "COMPLIANCE" or leave it empty.',
        )
    if storage.part_size_mb < 5:
        raise ConfigError(
            "part_size_mb is below S3's 5 MB minimum",
            detail=f"{path}: [storage] part_size_mb = {storage.part_size_mb}.",
            hint="Use 5 or more.",
        )

    encryption = _build(EncryptionConfig, raw.get("encryption", {}), "[encryption]", path)
    retention = _retention(raw.get("retention", {}), "[retention]", path, RetentionPolicy())

    databases: dict[str, DatabaseConfig] = {}
    for name, table in raw.get("databases", {}).items():
        where = f"[databases.{name}]"
        if not DB_NAME_RE.match(name):
            raise ConfigError(
                f"database name '{name}' is not allowed",
                detail=f"{path}: {where}. Names become part of object keys and Slack commands.",
                hint="Use lowercase letters, digits, '-' and '_' (e.g. prod, staging, app_eu).",
            )
        if not isinstance(table, dict):
            raise ConfigError(f"{where} must be a table", detail=f"{path}", hint=f"Write it as {where}.")
        table = dict(table)
        db_retention = (
            _retention(table.pop("retention"), f"{where}.retention", path, retention)
            if "retention" in table
            else retention
        )
        if "dump_url_env" not in table and "neon_project_id" in table:
            table["dump_url_env"] = ""  # a Neon-only database: branches, no dumps
        if "dump_url_env" not in table:
            raise ConfigError(
                f"database '{name}' has no dump_url_env",
                detail=f"{path}: {where} must name the environment variable holding its (read-only) dump URL.",
                hint=f'Add dump_url_env = "{name.upper()}_DUMP_URL" under {where}.',
            )
        db = _build(DatabaseConfig, table, where, path, name=name, config_file=path, retention=db_retention)
        if db.neon_branch and not db.neon_project_id:
            raise ConfigError(
                "neon_branch needs neon_project_id",
                detail=f"{path}: {where} sets neon_branch = {db.neon_branch!r} but no neon_project_id.",
                hint='Add neon_project_id = "…" (Neon console → Settings → Project ID) or remove neon_branch.',
            )
        if db.approvals_required < 1:
            raise ConfigError(
                "approvals_required must be at least 1", detail=f"{path}: {where}.", hint="Use 1 or 2."
            )
        sessions_hint = 'Use "terminate" or "wait".'
        _one_of(db.restore_sessions, ("terminate", "wait"), "restore_sessions", where, path, sessions_hint)
        _one_of(db.restore_owner, ("no-owner", "keep"), "restore_owner", where, path, 'Use "no-owner".')
        if db.restore_method not in ("auto", "swap", "clean"):
            raise ConfigError(
                'restore_method must be "auto", "swap" or "clean"',
                detail=f"{path}: {where}: {db.restore_method!r}.",
                hint='Use "auto": swap where the restore role may create databases, clean elsewhere.',
            )
        _one_of(
            db.maintenance, ("restore", "switch"), "maintenance", where, path, 'Use "restore" or "switch".'
        )
        _one_of(db.restore_clean, ("keep", "exact"), "restore_clean", where, path, 'Use "keep" or "exact".')
        if db.restore_mode not in ("auto", "staged", "streamed"):
            raise ConfigError(
                'restore_mode must be "auto", "staged" or "streamed"',
                detail=f"{path}: {where}: {db.restore_mode!r}.",
                hint='Use "auto": staged with pg_restore -j where there are cores to spare, streamed elsewhere.',
            )
        if not re.fullmatch(r"[1-9][0-9]*(kB|MB|GB)", db.restore_maintenance_work_mem):
            raise ConfigError(
                'restore_maintenance_work_mem must be a size such as "512MB"',
                detail=f"{path}: {where}: {db.restore_maintenance_work_mem!r}.",
                hint="Write a whole number followed by kB, MB or GB.",
            )
        _one_of(db.row_counts, ("exact", "estimate"), "row_counts", where, path, 'Use "exact".')
        databases[name] = db
    _check_drill_targets(databases, path)

    slack = _build(SlackConfig, raw.get("slack", {}), "[slack]", path)
    _one_of(slack.locale, SUPPORTED_LOCALES, "locale", f"[slack] locale = {slack.locale!r}", path, 'Use "en".')
    runner = _build(RunnerConfig, raw.get("runner", {}), "[runner]", path)
    alerts = _build(AlertsConfig, raw.get("alerts", {}), "[alerts]", path)
    state = _build(StateConfig, raw.get("state", {}), "[state]", path)
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", state.schema):
        raise ConfigError(
            "[state] schema must be a plain lowercase name",
            detail=f"{path}: [state] schema = {state.schema!r}.",
            hint='Use letters, digits and underscores, e.g. "backupbot".',
        )
    verify = _build(VerifyConfig, raw.get("verify", {}), "[verify]", path)
    neon = _build(NeonConfig, raw.get("neon", {}), "[neon]", path)
    cfg = Config(
        path=path,
        storage=storage,
        encryption=encryption,
        databases=databases,
        slack=slack,
        runner=runner,
        alerts=alerts,
        retention=retention,
        verify=verify,
        neon=neon,
        state_dir=_state_dir(raw, path),
        state=state,
        files=parse_files(raw.get("files"), path, _build),
    )
    check_config(cfg)
    # One config per process, so its locale is the process's: every message from here on.
    set_locale(slack.locale)
    return cfg


def _check_drill_targets(databases: dict[str, DatabaseConfig], path: str) -> None:
    """A drill target is a configured database other than the one drilled, with a restore URL."""
    for db in databases.values():
        if not db.drill_target:
            continue
        where = f"[databases.{db.name}] drill_target"
        if db.drill_target == db.name or db.drill_target not in databases:
            raise ConfigError(
                f"drill_target '{db.drill_target}' is not another configured database",
                detail=f"{path}: {where} = {db.drill_target!r}; configured: {', '.join(sorted(databases))}.",
                hint="Name a staging database configured under [databases.NAME], or remove drill_target "
                "to drill into a scratch database on the [verify] server.",
            )
        if not databases[db.drill_target].restore_url_env:
            raise ConfigError(
                f"drill_target '{db.drill_target}' has no restore_url_env",
                detail=f"{path}: {where}: the drill restores into it through its restore URL.",
                hint=f'Add restore_url_env = "…" under [databases.{db.drill_target}].',
            )
