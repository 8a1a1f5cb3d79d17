"""The doctor's check of the verification server (``[verify] url_env``): verify, drill, restore-table.

It must not be a configured source or target, must answer, and its role must be able to
create databases — found now rather than at the first verification.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.config import Config
from core.errors import BackupbotError
from core.i18n import N_, _
from core.redact import describe_url

if TYPE_CHECKING:
    from engine.doctor import Report

AREA = N_("verification server")


def check_verify(cfg: Config, report: Report) -> None:
    from engine import scratch

    if not cfg.verify.url_env:
        report.add(
            AREA,
            N_("configured"),
            "skip",
            _("no [verify] url_env: verify, restore-table and scratch drills are off"),
        )
        return
    try:
        url = scratch.server_url(cfg)
    except BackupbotError as err:
        report.add(
            AREA,
            N_("configured"),
            "fail",
            err.message + (f" — {err.detail}" if err.detail else ""),
            err.hint or "",
        )
        return
    report.add(
        AREA,
        N_("configured"),
        "ok",
        _("{where}, not a configured source or target").format(where=describe_url(url)),
    )
    with report.trying(AREA, N_("may create scratch databases")) as out:
        with scratch._admin(url) as conn:
            row = conn.execute(
                "SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user"
            ).fetchone()
        if row and row[0]:
            out["detail"] = _("the role has CREATEDB")
        else:
            out["status"], out["detail"] = "fail", _("the role lacks CREATEDB")
            out["fix"] = _("ALTER ROLE … CREATEDB on the verification server (never production).")
