"""The doctor's look at where the bot keeps its own state, and whether a restore could overwrite it.

With ``BACKUPBOT_STATE_URL`` the bot's memory (pending approvals, jobs, alert streaks)
is a PostgreSQL database like the ones it restores; if a configured restore target is
that same database, a restore would replace the state that is recording the restore.
Compared by host, port and database name, so a different user or password does not hide it.
"""

from __future__ import annotations

import os
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict

from core.config import Config
from core.i18n import N_, _
from core.redact import describe_url
from engine.doctor import Report, label


def _where(url: str) -> tuple[str, str, str] | None:
    try:
        parts = conninfo_to_dict(url)
    except Exception:  # an unparseable URL is the database checks' business
        return None
    host = str(parts.get("host") or "localhost")
    if host in ("127.0.0.1", "::1"):
        host = "localhost"
    user = str(parts.get("user") or "")
    return host, str(parts.get("port") or "5432"), str(parts.get("dbname") or user)


def check_state(cfg: Config, report: Report) -> None:
    env = cfg.state.url_env
    url = os.environ.get(env) or os.environ.get("BACKUPBOT_STATE_URL") or ""
    if not url:
        report.add(
            N_("state"),
            N_("where"),
            "ok",
            _("SQLite file {path} (one process, one disk)").format(
                path=Path(cfg.state_dir) / "backupbot.sqlite3"
            ),
        )
        return
    report.add(
        N_("state"),
        N_("where"),
        "ok",
        _("PostgreSQL {where}, schema {schema}").format(where=describe_url(url), schema=cfg.state.schema),
    )
    state = _where(url)
    for db in cfg.databases.values():
        for setting in ("restore_url_env", "dump_url_env"):
            name = getattr(db, setting, None)
            target = os.environ.get(name or "")
            if not target or _where(target) != state:
                continue
            if setting == "restore_url_env":
                report.add(
                    N_("state"),
                    label(N_("not a restore target ({db})"), db=db.name),
                    "warn",
                    _(
                        "{env} and {name} (restore target of '{db}') are the same database {where}: "
                        "a restore there would overwrite the bot's own state (approvals, jobs, alert streaks)"
                    ).format(env=env, name=name, db=db.name, where=describe_url(url)),
                    _(
                        "Keep the state in a database of its own (e.g. .../backupbot_state), or restore '{db}' "
                        "elsewhere."
                    ).format(db=db.name),
                )
                break
            report.add(
                N_("state"),
                label(N_("backed up with '{db}'"), db=db.name),
                "ok",
                _("the state lives in {db}'s database, so its backups include it").format(db=db.name),
            )
