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
    setting_at,
)
from core.dburl import is_env_name
from core.errors import ConfigError
from core.i18n import DEFAULT_LOCALE, SUPPORTED_LOCALES, _, set_locale

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


def _check_keys(table: dict[str, Any], allowed: set[str], where: str | None, path: str) -> None:
    """Every key of ``table`` is a known setting; ``where`` is the table's name, None at the top level."""
    for key in table:
        if key not in allowed:
            close = difflib.get_close_matches(key, sorted(allowed), n=1)
            known = ", ".join(sorted(allowed))
            if where is None:
                message = _("unknown setting '{key}' at the top level").format(key=key)
                detail = _("{path} has '{key}' at the top level; known settings there: {known}.")
            else:
                message = _("unknown setting '{key}' in {where}").format(key=key, where=where)
                detail = _("{path} has '{key}' under {where}; known settings there: {known}.")
            raise ConfigError(
                message,
                detail=detail.format(path=path, key=key, where=where, known=known),
                hint=_("Did you mean '{name}'?").format(name=close[0])
                if close
                else _("Remove it or check the example file backupbot.example.toml."),
            )


def _typed(table: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str, path: str) -> Any:
    value = table[key]
    ok = isinstance(value, kind) and not (kind in (int, float, (int, float)) and isinstance(value, bool))
    if not ok:
        want = (
            kind.__name__
            if isinstance(kind, type)
            else _("{first} or {second}").format(first=kind[0].__name__, second=kind[1].__name__)
        )
        raise ConfigError(
            _("setting '{key}' in {where} has the wrong type").format(key=key, where=where),
            detail=_("{path}: {where}.{key} = {value} is a {type}, expected {want}.").format(
                path=path, where=where, key=key, value=repr(value), type=type(value).__name__, want=want
            ),
            hint=_("Fix the value in the file; see backupbot.example.toml for the form each setting takes."),
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
                    _("setting '{key}' in {where} must be a list of strings").format(key=key, where=where),
                    detail=setting_at(path, f"{where}.{key} = {value!r}"),
                    hint=_('Write it as ["a", "b"].'),
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
        detail = (
            _("{path}: {where}.{key} holds a connection URL (not shown: it may contain a password).")
            if "://" in name
            else _(
                "{path}: {where}.{key} does not hold a variable name (not shown: it may contain a password)."
            )
        )
        raise ConfigError(
            _("setting '{key}' in {where} must name an environment variable").format(key=key, where=where),
            detail=detail.format(path=path, where=where, key=key),
            hint=_(
                'Put the value in an environment variable and name it: {key} = "PROD_DUMP_URL", '
                "then export PROD_DUMP_URL=… where backupbot runs. Rotate the password if the file was shared."
            ).format(key=key),
        )


def _nonneg(value: int, key: str, where: str, path: str) -> None:
    if value < 0:
        raise ConfigError(
            _("setting '{key}' in {where} is negative").format(key=key, where=where),
            detail=setting_at(path, f"{where}.{key} = {value}"),
            hint=_("Use 0 to turn a rule off, or a positive number."),
        )


def _one_of(value: str, allowed: tuple[str, ...], key: str, where: str, path: str, hint: str) -> None:
    """A setting that takes one of two words; the hint names the one to pick when in doubt."""
    if value not in allowed:
        raise ConfigError(
            _('{key} must be "{first}" or "{second}"').format(key=key, first=allowed[0], second=allowed[1]),
            detail=setting_at(path, where),
            hint=hint,
        )


def _retention(table: Any, where: str, path: str, base: RetentionPolicy) -> RetentionPolicy:
    if not isinstance(table, dict):
        raise ConfigError(
            _("{where} must be a table").format(where=where),
            detail=setting_at(path, f"{where} = {table!r}"),
            hint=_("Write it as {where}.").format(where=where),
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
            _("state_dir must be a folder path"),
            detail=setting_at(path, f"state_dir = {value!r}"),
            hint=_(
                'Write state_dir = "/var/lib/backupbot" (relative paths are read from the config file\'s folder), '
                "or remove it to use the per-user state directory."
            ),
        )
    return str((Path(path).resolve().parent / Path(value).expanduser()).resolve())


def state_dir_origin(cfg: Config) -> str:
    """Where ``cfg.state_dir`` came from, for the line that tells people where state is kept."""
    if os.environ.get("BACKUPBOT_STATE_DIR"):
        return _("from BACKUPBOT_STATE_DIR")
    if cfg.state_dir != str(user_state_dir()):
        return _("from state_dir in {path}").format(path=cfg.path)
    return _("the per-user default; set state_dir in the config or BACKUPBOT_STATE_DIR to change it")


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
                _("config file {path} does not exist").format(path=chosen),
                detail=_("It was named by --config or BACKUPBOT_CONFIG."),
                hint=_(
                    "Copy backupbot.example.toml to that path and edit it, "
                    "or unset BACKUPBOT_CONFIG to use ./backupbot.toml."
                ),
            )
        set_locale(DEFAULT_LOCALE)
        return embedded_default()
    try:
        with open(chosen, "rb") as fh:
            raw = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            _("config file {path} is not valid TOML").format(path=chosen),
            detail=str(exc),  # tomllib's words, with the line and column
            hint=_("Fix the syntax at the line named above; backupbot.example.toml shows every setting."),
        ) from None
    except OSError as exc:
        raise ConfigError(
            _("cannot read config file {path}").format(path=chosen),
            detail=exc.strerror,
            hint=_("Check the path and permissions."),
        ) from None
    return parse_config(raw, chosen)


def _early_locale(raw: dict[str, Any]) -> None:
    """Speak the file's language before any check of the file can fail.

    Why first: a config error is the first message a team meets, and it is built (with
    ``_()``) when it is raised, so the locale must already be the file's when the first check
    raises — an unknown key at the top level is found before ``[slack]`` is even read. Only a
    locale that is a string we support is taken here; anything else (``"fr"``, a number) leaves
    the language as it was, and the ``[slack] locale`` check further down reports it. The
    process keeps this locale even when a later check fails: that error is the last thing it
    says. Errors before the file is parsed (missing file, broken TOML) cannot know it.
    """
    slack = raw.get("slack")
    code = slack.get("locale", DEFAULT_LOCALE) if isinstance(slack, dict) else DEFAULT_LOCALE
    if isinstance(code, str) and code in SUPPORTED_LOCALES:
        set_locale(code)


def parse_config(raw: dict[str, Any], path: str) -> Config:
    """The checked ``Config`` of a parsed TOML file; ``ConfigError`` (in the file's language) otherwise."""
    _early_locale(raw)
    _check_keys(raw, _TOP_LEVEL, None, path)
    for section in _SECTIONS:
        if section in raw and not isinstance(raw[section], dict):
            raise ConfigError(
                _("'{section}' must be a table").format(section=section),
                detail=setting_at(path, f"{section} = {raw[section]!r}"),
                hint=_("Write it as [{section}].").format(section=section),
            )

    storage_raw = raw.get("storage")
    if not storage_raw or not storage_raw.get("url"):
        raise ConfigError(
            _("no storage is configured"),
            detail=_("{path} has no [storage] url.").format(path=path),
            hint=_('Add [storage] url = "s3://bucket/prefix" (or "file:///var/lib/backupbot/store").'),
        )
    storage = _build(StorageConfig, storage_raw, "[storage]", path)
    if not (storage.url.startswith("s3://") or storage.url.startswith("file://")):
        raise ConfigError(
            _("storage url must start with s3:// or file://"),
            detail=setting_at(path, f"[storage] url = {storage.url!r}"),
            hint=_(
                'Use "s3://bucket/prefix" for S3 and S3-compatible stores, "file:///path" for a local folder.'
            ),
        )
    if storage.url.startswith("s3://") and not storage.url[5:].split("/")[0]:
        raise ConfigError(
            _("storage url names no bucket"),
            detail=setting_at(path, f"[storage] url = {storage.url!r}"),
            hint=_('Write "s3://BUCKET/prefix".'),
        )
    if storage.sse not in ("AES256", "aws:kms", "none"):
        raise ConfigError(
            _("unknown server-side encryption '{sse}'").format(sse=storage.sse),
            detail=setting_at(path, f"[storage] sse = {storage.sse!r}"),
            hint=_('Use "AES256" (default) or "aws:kms" with kms_key_id.'),
        )
    if storage.sse == "aws:kms" and not storage.kms_key_id:
        raise ConfigError(
            _('sse = "aws:kms" needs a key id'),
            detail=_('{path}: [storage] has sse = "aws:kms" but no kms_key_id.').format(path=path),
            hint=_('Add kms_key_id = "arn:aws:kms:…" or use sse = "AES256".'),
        )
    if storage.object_lock_mode not in ("", "GOVERNANCE", "COMPLIANCE"):
        raise ConfigError(
            _("unknown object lock mode '{mode}'").format(mode=storage.object_lock_mode),
            detail=setting_at(path, "[storage] object_lock_mode"),
            hint=_('Use "GOVERNANCE", "COMPLIANCE" or leave it empty.'),
        )
    if storage.part_size_mb < 5:
        raise ConfigError(
            _("part_size_mb is below S3's 5 MB minimum"),
            detail=setting_at(path, f"[storage] part_size_mb = {storage.part_size_mb}"),
            hint=_("Use 5 or more."),
        )

    encryption = _build(EncryptionConfig, raw.get("encryption", {}), "[encryption]", path)
    retention = _retention(raw.get("retention", {}), "[retention]", path, RetentionPolicy())

    databases: dict[str, DatabaseConfig] = {}
    for name, table in raw.get("databases", {}).items():
        where = f"[databases.{name}]"
        if not DB_NAME_RE.match(name):
            raise ConfigError(
                _("database name '{name}' is not allowed").format(name=name),
                detail=_("{path}: {where}. Names become part of object keys and Slack commands.").format(
                    path=path, where=where
                ),
                hint=_("Use lowercase letters, digits, '-' and '_' (e.g. prod, staging, app_eu)."),
            )
        if not isinstance(table, dict):
            raise ConfigError(
                _("{where} must be a table").format(where=where),
                detail=path,
                hint=_("Write it as {where}.").format(where=where),
            )
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
                _("database '{name}' has no dump_url_env").format(name=name),
                detail=_(
                    "{path}: {where} must name the environment variable holding its (read-only) dump URL."
                ).format(path=path, where=where),
                hint=_('Add dump_url_env = "{env}" under {where}.').format(
                    env=f"{name.upper()}_DUMP_URL", where=where
                ),
            )
        db = _build(DatabaseConfig, table, where, path, name=name, config_file=path, retention=db_retention)
        if db.neon_branch and not db.neon_project_id:
            raise ConfigError(
                _("neon_branch needs neon_project_id"),
                detail=_("{path}: {where} sets neon_branch = {branch} but no neon_project_id.").format(
                    path=path, where=where, branch=repr(db.neon_branch)
                ),
                hint=_(
                    'Add neon_project_id = "…" (Neon console → Settings → Project ID) or remove neon_branch.'
                ),
            )
        if db.approvals_required < 1:
            raise ConfigError(
                _("approvals_required must be at least 1"),
                detail=setting_at(path, where),
                hint=_("Use 1 or 2."),
            )
        use = _('Use "{value}".')
        use_either = _('Use "{first}" or "{second}".')
        sessions_hint = use_either.format(first="terminate", second="wait")
        _one_of(db.restore_sessions, ("terminate", "wait"), "restore_sessions", where, path, sessions_hint)
        _one_of(
            db.restore_owner, ("no-owner", "keep"), "restore_owner", where, path, use.format(value="no-owner")
        )
        if db.restore_method not in ("auto", "swap", "clean"):
            raise ConfigError(
                _('restore_method must be "auto", "swap" or "clean"'),
                detail=setting_at(path, f"{where}: {db.restore_method!r}"),
                hint=_('Use "auto": swap where the restore role may create databases, clean elsewhere.'),
            )
        maintenance_hint = use_either.format(first="restore", second="switch")
        _one_of(db.maintenance, ("restore", "switch"), "maintenance", where, path, maintenance_hint)
        clean_hint = use_either.format(first="keep", second="exact")
        _one_of(db.restore_clean, ("keep", "exact"), "restore_clean", where, path, clean_hint)
        if db.restore_mode not in ("auto", "staged", "streamed"):
            raise ConfigError(
                _('restore_mode must be "auto", "staged" or "streamed"'),
                detail=setting_at(path, f"{where}: {db.restore_mode!r}"),
                hint=_(
                    'Use "auto": staged with pg_restore -j where there are cores to spare, streamed elsewhere.'
                ),
            )
        if not re.fullmatch(r"[1-9][0-9]*(kB|MB|GB)", db.restore_maintenance_work_mem):
            raise ConfigError(
                _('restore_maintenance_work_mem must be a size such as "512MB"'),
                detail=setting_at(path, f"{where}: {db.restore_maintenance_work_mem!r}"),
                hint=_("Write a whole number followed by kB, MB or GB."),
            )
        _one_of(db.row_counts, ("exact", "estimate"), "row_counts", where, path, use.format(value="exact"))
        databases[name] = db
    _check_drill_targets(databases, path)

    slack = _build(SlackConfig, raw.get("slack", {}), "[slack]", path)
    _one_of(
        slack.locale,
        SUPPORTED_LOCALES,
        "locale",
        f"[slack] locale = {slack.locale!r}",
        path,
        _('Use "{first}" or "{second}".').format(first="en", second="es"),
    )
    runner = _build(RunnerConfig, raw.get("runner", {}), "[runner]", path)
    alerts = _build(AlertsConfig, raw.get("alerts", {}), "[alerts]", path)
    state = _build(StateConfig, raw.get("state", {}), "[state]", path)
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", state.schema):
        raise ConfigError(
            _("[state] schema must be a plain lowercase name"),
            detail=setting_at(path, f"[state] schema = {state.schema!r}"),
            hint=_('Use letters, digits and underscores, e.g. "backupbot".'),
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
                _("drill_target '{target}' is not another configured database").format(
                    target=db.drill_target
                ),
                detail=_("{path}: {where} = {target}; configured: {names}.").format(
                    path=path, where=where, target=repr(db.drill_target), names=", ".join(sorted(databases))
                ),
                hint=_(
                    "Name a staging database configured under [databases.NAME], or remove drill_target "
                    "to drill into a scratch database on the [verify] server."
                ),
            )
        if not databases[db.drill_target].restore_url_env:
            raise ConfigError(
                _("drill_target '{target}' has no restore_url_env").format(target=db.drill_target),
                detail=_("{path}: {where}: the drill restores into it through its restore URL.").format(
                    path=path, where=where
                ),
                hint=_('Add restore_url_env = "…" under [databases.{target}].').format(
                    target=db.drill_target
                ),
            )
