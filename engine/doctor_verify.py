"""The doctor's check of the verification server (``[verify] url_env``): verify, drill, restore-table.

It must not be a configured source or target, must answer, and its role must be able to
create databases — found now rather than at the first verification.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.config import Config
from core.errors import BackupbotError
from core.redact import describe_url

if TYPE_CHECKING:
    from engine.doctor import Report

AREA = "verification server"


def check_verify(cfg: Config, report: Report) -> None:
    from engine import scratch

    if not cfg.verify.url_env:
        report.add(
            AREA,
            "configured",
            "skip",
            "no [verify] url_env: verify, restore-table and scratch drills are off",
        )
        return
    try:
        url = scratch.server_url(cfg)
    except BackupbotError as err:
        report.add(
            AREA,
            "configured",
            "fail",
            err.message + (f" — {err.detail}" if err.detail else ""),
            err.hint or "",
        )
        return
    report.add(AREA, "configured", "ok", f"{describe_url(url)}, not a configured source or target")
    with report.trying(AREA, "may create scratch databases") as out:
        with scratch._admin(url) as conn:
            row = conn.execute(
                "SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user"
            ).fetchone()
        if row and row[0]:
            out["detail"] = "the role has CREATEDB"
        else:
            out["status"], out["detail"] = "fail", "the role lacks CREATEDB"
            out["fix"] = "ALTER ROLE … CREATEDB on the verification server (never production)."
