"""What a loaded configuration looks like: frozen dataclasses and the names they allow.

Kept apart from the TOML loading and validation in ``core.config`` so the many modules
that only read settings see the shape without the parser. Connection URLs are not
stored here: a ``DatabaseConfig`` keeps the *names* of environment variables and reads
them at use time, so a secret never sits in a config object that might be logged.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field

from core.dburl import check_connection_url
from core.errors import ConfigError
from core.i18n import _

DEFAULT_CONFIG = "backupbot.toml"
PRE_EVENT_KINDS = ("pre-migration", "pre-deploy", "pre-infra", "pre-restore")
BACKUP_KINDS = ("daily", "monthly", "manual", *PRE_EVENT_KINDS)
DB_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def setting_at(path: str, setting: str) -> str:
    """``file: [section] key = value.`` — the detail of a config error that names a setting as written.

    Only the frame is a message: the setting is TOML syntax, which a translation sets in a
    code span and never translates.
    """
    return _("{path}: {setting}.").format(path=path, setting=setting)


@dataclass(frozen=True)
class StorageConfig:
    url: str
    endpoint_url: str | None = None
    region: str | None = None
    sse: str = "AES256"  # "AES256", "aws:kms" or "none" (file:// ignores it)
    kms_key_id: str | None = None
    part_size_mb: int = 16
    max_attempts: int = 6
    object_lock_mode: str = ""  # "", "GOVERNANCE" or "COMPLIANCE"
    object_lock_days: int = 0


@dataclass(frozen=True)
class EncryptionConfig:
    key_env: str = "BACKUPBOT_KEY"
    old_key_envs: tuple[str, ...] = ()


@dataclass(frozen=True)
class RetentionPolicy:
    daily: int = 7
    weekly: int = 0
    monthly: int = 2
    yearly: int = 0
    pre_event_days: int = 30


@dataclass(frozen=True)
class DatabaseConfig:
    name: str
    dump_url_env: str
    restore_url_env: str | None = None
    schedule: str = "0 3 * * *"
    timezone: str = "UTC"
    max_age_hours: float = 26.0
    retention: RetentionPolicy = field(default_factory=RetentionPolicy)
    # restore (issue: restore with approval)
    approvers: tuple[str, ...] = ()
    approver_group: str = ""
    approvals_required: int = 1
    maintenance_on: tuple[str, ...] | str = ()  # argv, or an https:// webhook URL
    maintenance_off: tuple[str, ...] | str = ()
    migrate: tuple[str, ...] = ("npm", "run", "db:migrate")
    migrate_cwd: str = ""
    health_checks: tuple[str, ...] = ()
    runbook_file: str = ""
    hook_timeout_seconds: int = 600
    restore_jobs: int = 2
    # "auto": stage the dump and pg_restore -j only with a core to spare beside the -j workers
    # (bench/bench_restore.py: on 2 cores the one-pass stream is faster); "staged", "streamed"
    restore_mode: str = "auto"
    restore_sessions: str = "terminate"  # or "wait"
    restore_owner: str = "no-owner"  # or "keep"
    restore_maintenance_work_mem: str = "512MB"  # per pg_restore connection, for index builds
    restore_method: str = "auto"  # "swap" (new database, renamed into place), "clean" (in place), "auto"
    maintenance: str = "restore"  # swap only: "switch" keeps the app up until the rename
    keep_previous_hours: float = 24.0  # swap: how long the replaced database is kept for undo
    restore_clean: str = "keep"  # clean: "exact" also drops what only the target has
    globals: bool = False  # the backup also stores roles and memberships (pg_dumpall --globals-only)
    # verification (issue: verification)
    row_counts: str = "exact"  # or "estimate" (pg_class.reltuples) for databases too big to count
    drill_schedule: str = "0 4 * * 0#1"  # first Sunday of the month, 04:00 in `timezone`; "" = off
    drill_target: str = ""  # a configured database the drill restores into; "" = a scratch database
    # Neon (issue 11): the project and branch this database lives on; backups may also be branches
    neon_project_id: str = ""
    neon_branch: str = ""  # a branch name or br- id; empty: the project's default branch
    config_file: str = ""

    def _url(self, env_name: str | None, setting: str) -> str:
        if not env_name:
            detail = (
                _("[databases.{db}] in {path} does not set {setting}.")
                if self.config_file
                else _("[databases.{db}] in the config does not set {setting}.")
            )
            raise ConfigError(
                _("database '{db}' has no {setting}").format(db=self.name, setting=setting),
                detail=detail.format(db=self.name, path=self.config_file, setting=setting),
                hint=_('Add {setting} = "NAME_OF_ENV_VAR" under [databases.{db}].').format(
                    setting=setting, db=self.name
                ),
            )
        value = os.environ.get(env_name, "")
        if not value:
            raise ConfigError(
                _("the connection URL for database '{db}' is not set").format(db=self.name),
                detail=_(
                    "{setting} in [databases.{db}] names the environment variable {env}, which is empty or unset."
                ).format(setting=setting, db=self.name, env=env_name),
                hint=_(
                    "Export {env}=postgresql://USER:PASSWORD@HOST:5432/DBNAME in the bot's environment."
                ).format(env=env_name),
            )
        check_connection_url(value, env_name, self.name)
        return value

    def dump_url(self) -> str:
        """The read-only URL pg_dump uses; read from the environment at use time."""
        return self._url(self.dump_url_env, "dump_url_env")

    def restore_url(self) -> str:
        """The URL a restore writes through; a separate role from the dump URL."""
        return self._url(self.restore_url_env, "restore_url_env")


@dataclass(frozen=True)
class NeonConfig:
    """How to reach Neon's API; the key itself stays in the environment variable named here."""

    api_key_env: str = "NEON_API_KEY"
    timeout_seconds: float = 30.0  # one HTTP request
    retry_seconds: float = 120.0  # how long 423 / 429 / 503 are retried before giving up
    operation_timeout_seconds: float = 600.0  # how long to wait for Neon's operations to finish
    poll_interval_seconds: float = 1.0


@dataclass(frozen=True)
class SlackConfig:
    channel: str = ""
    alert_channel: str = ""
    allowed_channels: tuple[str, ...] = ()
    allowed_users: tuple[str, ...] = ()
    allowed_group: str = ""
    oncall_group: str = ""
    locale: str = "en"  # the language of every message: "en" or "es" (core/i18n.py)

    @property
    def alerts_to(self) -> str:
        return self.alert_channel or self.channel


@dataclass(frozen=True)
class RunnerConfig:
    max_parallel: int = 2
    progress_interval_seconds: float = 3.0
    approval_timeout_minutes: int = 30
    staging_dir: str = ""  # where restores stage a dump for pg_restore -j; default: state dir


@dataclass(frozen=True)
class AlertsConfig:
    heartbeat_url: str = ""
    deadman_reminder_hours: float = 24.0  # how often a stale-backup alert is repeated


@dataclass(frozen=True)
class StateConfig:
    """Where the bot's state lives: the SQLite file in state_dir, unless ``url_env`` names a PostgreSQL URL."""

    url_env: str = "BACKUPBOT_STATE_URL"
    schema: str = "backupbot"


@dataclass(frozen=True)
class VerifyConfig:
    """Where backups are proven restorable: a server on which scratch databases may be created."""

    url_env: str = ""  # names the env var with an admin URL of the verification server
    after_nightly: bool = False  # verify every scheduled backup right after it is taken
    scratch_ttl_hours: float = 24.0  # how long a restore-table scratch database is kept
    jobs: int = 2  # pg_restore -j for scratch restores

    def url(self, config_file: str = "") -> str:
        if not self.url_env:
            raise ConfigError(
                _("no verification server is configured"),
                detail=_("{path} has no [verify] url_env.").format(path=config_file)
                if config_file
                else _("The config has no [verify] url_env."),
                hint=_(
                    'Add [verify] url_env = "BACKUPBOT_VERIFY_URL" naming an env var that holds an admin URL '
                    "of a server where scratch databases may be created (never production)."
                ),
            )
        value = os.environ.get(self.url_env, "")
        if not value:
            raise ConfigError(
                _("the verification server's URL is not set"),
                detail=_(
                    "[verify] url_env names the environment variable {env}, which is empty or unset."
                ).format(env=self.url_env),
                hint=_(
                    "Export {env}=postgresql://USER:PASSWORD@HOST:5432/postgres (a role with CREATEDB)."
                ).format(env=self.url_env),
            )
        return value


@dataclass(frozen=True)
class FilesConfig:
    """The application's own bucket (certificates, XML) whose objects are copied under ``files/``.

    Credentials: by default boto3's usual chain, the same as ``[storage]``. When the app's
    bucket needs other credentials, ``profile`` names an AWS profile, or
    ``access_key_id_env`` / ``secret_access_key_env`` (/ ``session_token_env``) name the
    environment variables that hold them; the secrets themselves never sit in the file.
    """

    source_url: str
    prefixes: tuple[str, ...] = ()  # keys under source_url to copy, e.g. ["certs/", "xml/"]; empty: all
    endpoint_url: str | None = None
    region: str | None = None
    profile: str = ""
    access_key_id_env: str = ""
    secret_access_key_env: str = ""
    session_token_env: str = ""
    max_attempts: int = 6
    schedule: str = "30 4 * * *"  # after the default 03:00 database backups; "" turns it off
    verify_schedule: str = "0 5 * * *"  # "" turns the nightly check off
    timezone: str = "UTC"
    xml_patterns: tuple[str, ...] = ("*.xml",)
    certificate_patterns: tuple[str, ...] = ("*.pem", "*.crt", "*.cer", "*.der", "*.p12", "*.pfx", "*.key")
    pkcs12_password_env: str = ""  # password of every PKCS#12 / encrypted key without its own below
    password_envs: dict[str, str] = field(default_factory=dict)  # glob of the path -> env var name
    expiry_warning_days: int = 30


@dataclass(frozen=True)
class Config:
    path: str  # the file it came from, or "<embedded default>"
    storage: StorageConfig
    encryption: EncryptionConfig
    databases: dict[str, DatabaseConfig]
    slack: SlackConfig = field(default_factory=SlackConfig)
    runner: RunnerConfig = field(default_factory=RunnerConfig)
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    retention: RetentionPolicy = field(default_factory=RetentionPolicy)
    verify: VerifyConfig = field(default_factory=VerifyConfig)
    neon: NeonConfig = field(default_factory=NeonConfig)
    state_dir: str = "state"
    state: StateConfig = field(default_factory=StateConfig)
    files: FilesConfig | None = None  # [files]: the application's bucket, when configured

    def database(self, name: str) -> DatabaseConfig:
        """The named database, or an error that lists the configured ones."""
        if name in self.databases:
            return self.databases[name]
        known = sorted(self.databases)
        close = difflib.get_close_matches(name, known, n=1)
        hint = _("Did you mean '{name}'?").format(name=close[0]) + " " if close else ""
        raise ConfigError(
            _("unknown database '{name}'").format(name=name),
            detail=_("{path} configures: {names}.").format(path=self.path, names=", ".join(known))
            if known
            else _("{path} configures no databases.").format(path=self.path),
            hint=hint + _("Add a [databases.NAME] section with dump_url_env to configure another."),
        )
