"""``backupbot doctor [--json]``: check every part backups and restores need; exit 0 only when all pass.

Exit codes: 0 all checks passed (warnings allowed), 1 at least one check failed.
"""

from __future__ import annotations

import argparse

from cli.dump import add_json_flag
from cli.output import emit_json
from core.i18n import _


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "doctor",
        help=_("check the config, databases, bucket, keys, Slack and hooks; exit 0 only when all pass"),
        description=_(
            "Each check prints OK, WARN, FAIL (with the fix) or skip. Only a probe object under "
            "doctor/ in the bucket is written, and deleted again."
        ),
    )
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from engine.doctor import render_text, run_doctor

    report = run_doctor(args.config)
    if getattr(args, "json", False):
        emit_json(report.as_dict())
    else:
        print(render_text(report))
    return 0 if report.ok else 1
