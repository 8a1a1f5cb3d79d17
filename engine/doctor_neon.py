"""The doctor's Neon checks: the key opens the project, the database's branch exists, the history window.

Read-only, like every doctor check: a project and its branches are read, nothing is made.
"""

from __future__ import annotations

from typing import Any

from core.config import Config
from core.i18n import N_, _


def check_neon(cfg: Config, report: Any) -> None:
    from adapters.neon import NeonClient
    from engine.doctor import label
    from engine.neon_branches import resolve_branch

    for name in sorted(n for n, d in cfg.databases.items() if d.neon_project_id):
        db = cfg.databases[name]
        area = label(N_("neon {db}"), db=name)
        with report.trying(area, N_("API key opens the project")) as out:
            client = NeonClient.for_database(cfg, db)
            project = client.project(db.neon_project_id)
            hours = int(project.get("history_retention_seconds", 0) or 0) / 3600
            out["detail"] = _("project {id}: history window {hours} h").format(
                id=db.neon_project_id, hours=f"{hours:g}"
            )
            if not hours:
                out["status"], out["fix"] = (
                    "warn",
                    _("History retention is 0: neon@TIMESTAMP restores and --at need it."),
                )
        with report.trying(area, N_("database's branch")) as out:
            client = NeonClient.for_database(cfg, db)
            branch = resolve_branch(client, db)
            out["detail"] = f"{branch['name']} ({branch['id']})"
            if (db.neon_branch or "").startswith("br-"):
                out["status"] = "warn"
                out["fix"] = _('Name it: neon_branch = "{name}" (a snapshot restore changes the id).').format(
                    name=branch["name"]
                )
