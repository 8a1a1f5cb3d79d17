"""The checks that need the whole loaded config: numbers in range, cron expressions, time zones.

Why here and at load time: every entry point (CLI, bot, job runner) loads the config before
it starts anything or creates a file, so a typo stops all of them the same way, with exit 2,
instead of the bot starting and the scheduler failing at 03:00. Numbers are checked by the
name of their setting, so a setting added to the dataclasses in ``config_types`` later is
covered without touching this file: no number may be negative, and a timeout, interval,
count of workers or attempts must be above zero.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from core.config_types import Config, setting_at
from core.errors import ConfigError
from core.i18n import _

# Settings where 0 would mean "never" or "no one" and is not a way to turn something off.
_POSITIVE = re.compile(r"(_seconds|_minutes|_hours|_mb|_jobs|_required|_parallel|_attempts|timeout)$|^max_")


def _numbers(obj: Any, where: str, path: str) -> None:
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            continue  # nested tables are checked on their own, under their own name
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if value < 0 or (value == 0 and _POSITIVE.search(f.name)):
            positive = bool(_POSITIVE.search(f.name))
            message = (
                _("setting '{key}' in {where} must be above zero")
                if positive
                else _("setting '{key}' in {where} must be zero or more")
            )
            hint = (
                _("Use a positive number. backupbot.example.toml shows the default of each setting.")
                if positive
                else _(
                    "Use a positive number, or 0 where the example file says 0 turns it off. "
                    "backupbot.example.toml shows the default of each setting."
                )
            )
            raise ConfigError(
                message.format(key=f.name, where=where),
                detail=setting_at(path, f"{where}.{f.name} = {value}"),
                hint=hint,
            )


def _cron(cron: str, key: str, where: str, path: str) -> None:
    if cron.strip() and not croniter.is_valid(cron.strip()):
        raise ConfigError(
            _("{key} '{cron}' in {where} is not a cron expression").format(key=key, cron=cron, where=where),
            detail=setting_at(path, f"{where}.{key} = {cron!r}"),
            hint=_(
                'Use five fields: minute hour day month weekday, e.g. "0 3 * * *" for 03:00 every day; '
                '"" turns it off.'
            ),
        )


def _timezone(timezone: str, where: str, path: str) -> None:
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            _("unknown time zone '{timezone}' in {where}").format(timezone=timezone, where=where),
            detail=setting_at(path, f"{where}.timezone = {timezone!r}"),
            hint=_('Use an IANA name such as "UTC", "America/Panama" or "Europe/Madrid".'),
        ) from None


def _section(obj: Any, where: str, path: str) -> None:
    """Numbers, and every ``schedule`` / ``*_schedule`` and ``timezone`` setting, of one table."""
    _numbers(obj, where, path)
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if not isinstance(value, str):
            continue
        if f.name == "schedule" or f.name.endswith("_schedule"):
            _cron(value, f.name, where, path)
        elif f.name == "timezone":
            _timezone(value, where, path)


def check_config(cfg: Config) -> None:
    """Raise ``ConfigError`` at the first setting out of range; the file is ``cfg.path``.

    Every table of the config is covered, including ones added later: a dataclass field of
    ``Config`` is a table ``[name]``.
    """
    path = cfg.path
    for f in dataclasses.fields(cfg):
        section = getattr(cfg, f.name)
        if dataclasses.is_dataclass(section) and not isinstance(section, type):
            _section(section, f"[{f.name}]", path)
    for db in cfg.databases.values():
        where = f"[databases.{db.name}]"
        _section(db, where, path)
        _numbers(db.retention, f"{where}.retention", path)
