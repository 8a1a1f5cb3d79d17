"""``backupbot doctor``: every part a backup or a restore needs, checked now, each with what to do.

An install that looks fine fails at 3 a.m. for a reason that was there all along: a
bucket policy that refuses writes, a key that is not the one the backups were made with,
a pg_dump older than the server. The doctor tries each part the way the real work uses
it (writes, reads back and deletes a probe object; unwraps the newest backup's header
with the loaded keys) and reports one line per check: ok, warn (works, but look), fail
(with the fix) or skip (not configured). It changes nothing but its own probe object.
Nothing secret is ever in a line: URLs are shown as user@host:port/db, errors redacted.
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
from core.redact import redact
from core.slack_text import escape

Status = Literal["ok", "warn", "fail", "skip"]

# The bot scopes manifest.yml asks for (a test keeps the two lists equal).
SLACK_SCOPES = ("commands", "chat:write", "chat:write.public", "usergroups:read")


@dataclass(frozen=True)
class Check:
    area: str  # "config", "database app", "storage", "keys", "slack", "hooks app"
    name: str
    status: Status
    detail: str = ""
    fix: str = ""


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(c.status == "fail" for c in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.status == "fail"]

    def add(self, area: str, name: str, status: Status, detail: str = "", fix: str = "") -> Check:
        check = Check(area, name, status, redact(detail), redact(fix))
        self.checks.append(check)
        return check

    @contextmanager
    def trying(self, area: str, name: str, fix: str = "") -> Iterator[dict[str, str]]:
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


MARK = {"ok": "OK  ", "warn": "WARN", "fail": "FAIL", "skip": "skip"}
EMOJI = {"ok": ":white_check_mark:", "warn": ":warning:", "fail": ":x:", "skip": ":heavy_minus_sign:"}


def render_text(report: Report) -> str:
    lines = []
    for c in report.checks:
        lines.append(f"{MARK[c.status]} {c.area}: {c.name}" + (f" — {c.detail}" if c.detail else ""))
        if c.fix and c.status in ("fail", "warn"):
            lines.append(f"      fix: {c.fix}")
    bad = len(report.failed)
    lines.append("All checks passed." if report.ok else f"{bad} check(s) failed.")
    return "\n".join(lines)


def render_slack(report: Report) -> str:
    def esc(text: str) -> str:
        return escape(text)

    lines = ["*backupbot doctor*"]
    for c in report.checks:
        line = f"{EMOJI[c.status]} *{esc(c.area)}*: {esc(c.name)}" + (
            f" — {esc(c.detail)}" if c.detail else ""
        )
        if c.fix and c.status in ("fail", "warn"):
            line += f"\n      _Fix:_ {esc(c.fix)}"
        lines.append(line)
    lines.append(
        ":white_check_mark: All checks passed." if report.ok else f":x: {len(report.failed)} check(s) failed."
    )
    return "\n".join(lines)


# ------------------------------------------------------------------- the checks


def check_keys(cfg: Config, report: Report, storage: Any) -> None:
    """The current key loads; each old key is set; the newest backup made with each key opens."""
    from adapters.crypto import load_keyring
    from engine.doctor_checks import open_header

    area = "keys"
    try:
        ring = load_keyring(cfg.encryption, require_current=True)
    except BackupbotError as err:
        report.add(area, "current key", "fail", err.message, err.hint or "")
        return
    report.add(area, "current key", "ok", f"{cfg.encryption.key_env} has key id {ring.current_id}")
    for env_name in cfg.encryption.old_key_envs:
        if not os.environ.get(env_name):
            report.add(
                area,
                f"old key {env_name}",
                "warn",
                f"{env_name} is listed in [encryption] old_key_envs but is empty",
                f"Export {env_name}, or remove it from old_key_envs if no backup needs it.",
            )
    if storage is None:
        return
    from engine.catalog import list_backups

    try:
        manifests = list_backups(cfg, storage=storage)
    except BackupbotError as err:
        report.add(area, "backups readable", "fail", err.message, err.hint or "")
        return
    if not manifests:
        report.add(area, "newest backup opens", "skip", "no backups in the bucket yet")
        return
    newest_by_key: dict[str, Any] = {}
    for m in manifests:  # newest first
        newest_by_key.setdefault(m.key_id, m)
    for kid, m in newest_by_key.items():
        source = ring.sources.get(kid, "")
        name = f"key {kid}" + (f" ({source})" if source else "")
        with report.trying(area, f"{name} opens {m.id}") as out:
            open_header(storage, m, ring)
            out["detail"] = f"the newest backup made with it decrypts ({m.id})"
    needed = set(newest_by_key)
    for kid, source in ring.sources.items():
        if kid not in needed:
            report.add(area, f"key {kid} ({source})", "ok", "loaded; no backup in the bucket needs it")


def check_slack(report: Report) -> None:
    token = os.environ.get("SLACK_BOT_TOKEN", "")
    if not token:
        report.add(
            "slack", "token", "skip", "SLACK_BOT_TOKEN is not set (the CLI and the console work without it)"
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
            "slack",
            "token valid (auth.test)",
            "fail",
            f"Slack answered {code}",
            "Copy the Bot User OAuth Token (xoxb-…) from OAuth & Permissions into SLACK_BOT_TOKEN; reinstall the app if it was revoked.",
        )
        return
    except Exception as exc:
        report.add(
            "slack",
            "token valid (auth.test)",
            "fail",
            f"cannot reach Slack: {type(exc).__name__}: {exc}",
            "Check the network path to slack.com (proxy, firewall).",
        )
        return
    report.add(
        "slack",
        "token valid (auth.test)",
        "ok",
        f"bot user {resp.get('user_id', '?')} in team {resp.get('team_id', '?')}",
    )
    headers = {k.lower(): v for k, v in (resp.headers or {}).items()}
    raw = headers.get("x-oauth-scopes")
    if isinstance(raw, list):
        raw = ",".join(raw)
    if raw is None:
        report.add(
            "slack",
            "scopes",
            "warn",
            "Slack did not say which scopes the token has",
            f"Check OAuth & Permissions lists: {', '.join(SLACK_SCOPES)}.",
        )
        return
    have = {s.strip() for s in str(raw).split(",") if s.strip()}
    missing = [s for s in SLACK_SCOPES if s not in have]
    if missing:
        report.add(
            "slack",
            "scopes",
            "fail",
            f"the token lacks {', '.join(missing)}",
            "Add them under OAuth & Permissions → Bot Token Scopes (or paste manifest.yml again) and reinstall the app.",
        )
    else:
        report.add("slack", "scopes", "ok", f"has {', '.join(SLACK_SCOPES)}")


def _executable(argv0: str, cwd: str) -> str | None:
    if "/" in argv0:
        path = Path(argv0) if Path(argv0).is_absolute() else Path(cwd or ".") / argv0
        return str(path) if path.is_file() and os.access(path, os.X_OK) else None
    return shutil.which(argv0)


def check_hooks(cfg: Config, report: Report) -> None:
    for db in cfg.databases.values():
        area = f"hooks {db.name}"
        for setting, hook in (
            ("maintenance_on", db.maintenance_on),
            ("maintenance_off", db.maintenance_off),
            ("migrate", db.migrate),
        ):
            if not hook:
                report.add(area, setting, "skip", "not configured")
                continue
            if isinstance(hook, str):
                ok = hook.strip().split()[-1].startswith("https://")
                report.add(
                    area,
                    setting,
                    "ok" if ok else "fail",
                    "webhook " + redact(hook.split("?")[0]),
                    "" if ok else f"Use an https:// URL for {setting}.",
                )
                continue
            found = _executable(hook[0], db.migrate_cwd)
            if found:
                report.add(area, setting, "ok", f"{hook[0]} → {found}")
            else:
                where = (
                    f" (relative to migrate_cwd {db.migrate_cwd})"
                    if db.migrate_cwd and "/" in hook[0]
                    else " on PATH"
                )
                report.add(
                    area,
                    setting,
                    "fail",
                    f"{hook[0]} is not an executable{where}",
                    f"Install it, or fix [databases.{db.name}] {setting} (set it to [] if this database needs none).",
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
            "config",
            "loads",
            "fail",
            err.message + (f" — {err.detail}" if err.detail else ""),
            err.hint or "",
        )
        return report
    report.add(
        "config",
        "loads",
        "ok",
        f"{cfg.path}: {len(cfg.databases)} database(s): {', '.join(sorted(cfg.databases))}",
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
