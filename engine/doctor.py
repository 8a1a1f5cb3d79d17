"""``backupbot doctor``: every part a backup or a restore needs, checked now, each with what to do.

An install that looks fine fails at 3 a.m. for a reason that was there all along: a
bucket policy that refuses writes, a key that is not the one the backups were made with,
a pg_dump older than the server. The doctor tries each part the way the real work uses
it (writes, reads back and deletes a probe object; unwraps the newest backup's header
with the loaded keys) and reports one line per check: ok, warn (works, but look), fail
(with the fix) or skip (not configured). It changes nothing but its own probe object.
Nothing secret is ever in a line: URLs are shown as user@host:port/db, errors redacted.

A check's area and name are two things at once: stable keys (``--json`` readers and tests
match "keys: current key") and words a person reads in the team's language. So each is
given as an English template marked ``N_`` (with ``Label`` when it has values); the key is
the English, the text its translation. Detail and fix are only read, so they are
translated where they are written.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from core.config import Config, load_config
from core.errors import BackupbotError
from core.i18n import N_, _, ngettext
from core.redact import redact
from core.slack_text import escape

Status = Literal["ok", "warn", "fail", "skip"]


@dataclass(frozen=True)
class Label:
    """An area or check name with values: ``Label(N_("database {db}"), {"db": "app"})``."""

    template: str
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.template.format(**self.values) if self.values else self.template

    @property
    def text(self) -> str:
        return _(self.template).format(**self.values) if self.values else _(self.template)


def label(template: str, **values: Any) -> Label:
    return Label(template, values)


Name = str | Label  # a plain str is an English template marked with N_ where it is written


def _key(name: Name) -> str:
    return name.key if isinstance(name, Label) else name


def _text(name: Name) -> str:
    return name.text if isinstance(name, Label) else _(name)


# The bot scopes manifest.yml asks for (a test keeps the two lists equal).
SLACK_SCOPES = ("commands", "chat:write", "chat:write.public", "usergroups:read")


@dataclass(frozen=True)
class Check:
    area: str  # stable key: "config", "database app", "storage", "keys", "slack", "hooks app"
    name: str  # stable key: "current key", "dump URL reachable", …
    status: Status
    detail: str = ""
    fix: str = ""
    area_text: str = ""  # the area and name as people read them (the configured language)
    name_text: str = ""


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(c.status == "fail" for c in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.status == "fail"]

    def add(self, area: Name, name: Name, status: Status, detail: str = "", fix: str = "") -> Check:
        check = Check(_key(area), _key(name), status, redact(detail), redact(fix), _text(area), _text(name))
        self.checks.append(check)
        return check

    @contextmanager
    def trying(self, area: Name, name: Name, fix: str = "") -> Iterator[dict[str, str]]:
        """Run a block; it sets ``out["detail"]`` (and ``out["status"]``) on success, any error is a fail."""
        out: dict[str, str] = {"status": "ok", "detail": ""}
        try:
            yield out
        except BackupbotError as err:
            detail = err.message + (f" — {err.detail}" if err.detail else "")
            self.add(area, name, "fail", detail, err.hint or fix)
            return
        except Exception as exc:  # a check must never stop the others
            self.add(area, name, "fail", f"{type(exc).__name__}: {exc}", fix)
            return
        self.add(area, name, out["status"], out["detail"], out.get("fix", ""))  # type: ignore[arg-type]

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": [asdict(c) for c in self.checks]}


MARK = {"ok": N_("OK"), "warn": N_("WARN"), "fail": N_("FAIL"), "skip": N_("skip")}
EMOJI = {"ok": ":white_check_mark:", "warn": ":warning:", "fail": ":x:", "skip": ":heavy_minus_sign:"}


def _summary(report: Report) -> str:
    if report.ok:
        return _("All checks passed.")
    bad = len(report.failed)
    return ngettext("{n} check failed.", "{n} checks failed.", bad).format(n=bad)


def render_text(report: Report) -> str:
    marks = {status: _(mark) for status, mark in MARK.items()}
    width = max(len(m) for m in marks.values())
    lines = []
    for c in report.checks:
        head = f"{marks[c.status]:<{width}} {c.area_text or c.area}: {c.name_text or c.name}"
        lines.append(head + (f" — {c.detail}" if c.detail else ""))
        if c.fix and c.status in ("fail", "warn"):
            lines.append("      " + _("fix: {fix}").format(fix=c.fix))
    lines.append(_summary(report))
    return "\n".join(lines)


def render_slack(report: Report) -> str:
    def esc(text: str) -> str:
        return escape(text)

    lines = ["*backupbot doctor*"]
    for c in report.checks:
        line = f"{EMOJI[c.status]} *{esc(c.area_text or c.area)}*: {esc(c.name_text or c.name)}" + (
            f" — {esc(c.detail)}" if c.detail else ""
        )
        if c.fix and c.status in ("fail", "warn"):
            line += "\n      " + _("_Fix:_ {fix}").format(fix=esc(c.fix))
        lines.append(line)
    lines.append((":white_check_mark: " if report.ok else ":x: ") + _summary(report))
    return "\n".join(lines)


# ------------------------------------------------------------------- the checks


def check_keys(cfg: Config, report: Report, storage: Any) -> None:
    """The current key loads; each old key is set; the newest backup made with each key opens."""
    from adapters.crypto import load_keyring
    from engine.doctor_checks import open_header

    area = N_("keys")
    try:
        ring = load_keyring(cfg.encryption, require_current=True)
    except BackupbotError as err:
        report.add(area, N_("current key"), "fail", err.message, err.hint or "")
        return
    report.add(
        area,
        N_("current key"),
        "ok",
        _("{env} has key id {id}").format(env=cfg.encryption.key_env, id=ring.current_id),
    )
    for env_name in cfg.encryption.old_key_envs:
        if not os.environ.get(env_name):
            report.add(
                area,
                label(N_("old key {env}"), env=env_name),
                "warn",
                _("{env} is listed in [encryption] old_key_envs but is empty").format(env=env_name),
                _("Export {env}, or remove it from old_key_envs if no backup needs it.").format(env=env_name),
            )
    if storage is None:
        return
    from engine.catalog import list_backups

    try:
        manifests = list_backups(cfg, storage=storage)
    except BackupbotError as err:
        report.add(area, N_("backups readable"), "fail", err.message, err.hint or "")
        return
    if not manifests:
        report.add(area, N_("newest backup opens"), "skip", _("no backups in the bucket yet"))
        return
    newest_by_key: dict[str, Any] = {}
    for m in manifests:  # newest first
        newest_by_key.setdefault(m.key_id, m)
    for kid, m in newest_by_key.items():
        source = ring.sources.get(kid, "")
        name = (
            label(N_("key {kid} ({source}) opens {id}"), kid=kid, source=source, id=m.id)
            if source
            else label(N_("key {kid} opens {id}"), kid=kid, id=m.id)
        )
        with report.trying(area, name) as out:
            open_header(storage, m, ring)
            out["detail"] = _("the newest backup made with it decrypts ({id})").format(id=m.id)
    needed = set(newest_by_key)
    for kid, source in ring.sources.items():
        if kid not in needed:
            report.add(
                area,
                label(N_("key {kid} ({source})"), kid=kid, source=source),
                "ok",
                _("loaded; no backup in the bucket needs it"),
            )


def check_slack(report: Report) -> None:
    token = os.environ.get("SLACK_BOT_TOKEN", "")
    if not token:
        report.add(
            N_("slack"),
            N_("token"),
            "skip",
            _("SLACK_BOT_TOKEN is not set (the CLI and the console work without it)"),
        )
        return
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    base = os.environ.get("SLACK_API_URL") or WebClient.BASE_URL
    client = WebClient(token=token, base_url=base.rstrip("/") + "/", timeout=10)
    try:
        resp = client.auth_test()
    except SlackApiError as err:
        code = err.response.get("error", "error") if err.response is not None else "error"
        report.add(
            N_("slack"),
            N_("token valid (auth.test)"),
            "fail",
            _("Slack answered {code}").format(code=code),
            _(
                "Copy the Bot User OAuth Token (xoxb-…) from OAuth & Permissions into SLACK_BOT_TOKEN; "
                "reinstall the app if it was revoked."
            ),
        )
        return
    except Exception as exc:
        report.add(
            N_("slack"),
            N_("token valid (auth.test)"),
            "fail",
            _("cannot reach Slack: {error}").format(error=f"{type(exc).__name__}: {exc}"),
            _("Check the network path to slack.com (proxy, firewall)."),
        )
        return
    report.add(
        N_("slack"),
        N_("token valid (auth.test)"),
        "ok",
        _("bot user {user} in team {team}").format(
            user=resp.get("user_id", "?"), team=resp.get("team_id", "?")
        ),
    )
    headers = {k.lower(): v for k, v in (resp.headers or {}).items()}
    raw = headers.get("x-oauth-scopes")
    if isinstance(raw, list):
        raw = ",".join(raw)
    if raw is None:
        report.add(
            N_("slack"),
            N_("scopes"),
            "warn",
            _("Slack did not say which scopes the token has"),
            _("Check OAuth & Permissions lists: {scopes}.").format(scopes=", ".join(SLACK_SCOPES)),
        )
        return
    have = {s.strip() for s in str(raw).split(",") if s.strip()}
    missing = [s for s in SLACK_SCOPES if s not in have]
    if missing:
        report.add(
            N_("slack"),
            N_("scopes"),
            "fail",
            _("the token lacks {scopes}").format(scopes=", ".join(missing)),
            _(
                "Add them under OAuth & Permissions → Bot Token Scopes (or paste manifest.yml again) "
                "and reinstall the app."
            ),
        )
    else:
        report.add(N_("slack"), N_("scopes"), "ok", _("has {scopes}").format(scopes=", ".join(SLACK_SCOPES)))


def _executable(argv0: str, cwd: str) -> str | None:
    if "/" in argv0:
        path = Path(argv0) if Path(argv0).is_absolute() else Path(cwd or ".") / argv0
        return str(path) if path.is_file() and os.access(path, os.X_OK) else None
    return shutil.which(argv0)


def check_hooks(cfg: Config, report: Report) -> None:
    for db in cfg.databases.values():
        area = label(N_("hooks {db}"), db=db.name)
        for setting, hook in (
            ("maintenance_on", db.maintenance_on),
            ("maintenance_off", db.maintenance_off),
            ("migrate", db.migrate),
        ):
            name = label("{setting}", setting=setting)  # a setting's name: the same in every language
            if not hook:
                report.add(area, name, "skip", _("not configured"))
                continue
            if isinstance(hook, str):
                ok = hook.strip().split()[-1].startswith("https://")
                report.add(
                    area,
                    name,
                    "ok" if ok else "fail",
                    _("webhook {url}").format(url=redact(hook.split("?")[0])),
                    "" if ok else _("Use an https:// URL for {setting}.").format(setting=setting),
                )
                continue
            found = _executable(hook[0], db.migrate_cwd)
            if found:
                report.add(area, name, "ok", f"{hook[0]} → {found}")
            else:
                if db.migrate_cwd and "/" in hook[0]:
                    detail = _("{command} is not an executable (relative to migrate_cwd {cwd})").format(
                        command=hook[0], cwd=db.migrate_cwd
                    )
                else:
                    detail = _("{command} is not an executable on PATH").format(command=hook[0])
                report.add(
                    area,
                    name,
                    "fail",
                    detail,
                    _(
                        "Install it, or fix [databases.{db}] {setting} (set it to [] if this database needs none)."
                    ).format(db=db.name, setting=setting),
                )


def run_doctor(config_path: str | None) -> Report:
    """All checks, in the order a restore meets the parts; never raises."""
    from engine.doctor_checks import check_databases, check_storage
    from engine.doctor_state import check_state
    from engine.doctor_verify import check_verify

    report = Report()
    try:
        cfg = load_config(config_path)
    except BackupbotError as err:
        report.add(
            N_("config"),
            N_("loads"),
            "fail",
            err.message + (f" — {err.detail}" if err.detail else ""),
            err.hint or "",
        )
        return report
    n = len(cfg.databases)
    report.add(
        N_("config"),
        N_("loads"),
        "ok",
        ngettext("{path}: {n} database: {names}", "{path}: {n} databases: {names}", n).format(
            path=cfg.path, n=n, names=", ".join(sorted(cfg.databases))
        ),
    )
    check_databases(cfg, report)
    check_state(cfg, report)
    storage = check_storage(cfg, report)
    check_keys(cfg, report, storage)
    check_slack(report)
    check_hooks(cfg, report)
    check_verify(cfg, report)
    if any(d.neon_project_id for d in cfg.databases.values()):
        from engine.doctor_neon import check_neon

        check_neon(cfg, report)
    return report
