"""``backupbot restore neon:…|neon@…|neon-snapshot:… --target NAME``: the Neon restore from a terminal.

The same sources as Slack. Without ``--break-glass`` it shows what would be overwritten and
the name the current state would be preserved under, and changes nothing; with it (and a
reason) it runs the Neon runbook now, audited and announced like a dump break-glass restore.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from cli.output import emit_json, print_fields, step_line
from core.config import Config
from core.errors import UsageError
from core.i18n import _


def _step_line(rec: Any) -> None:
    if rec.status == "running":
        print(f"[{rec.number}/8] {rec.title} …", file=sys.stderr, flush=True)
        return
    print(
        step_line(rec.number, 8, rec.title, rec.status, rec.seconds, rec.detail), file=sys.stderr, flush=True
    )


def run_neon(cfg: Config, args: argparse.Namespace, store: Any, who: str, announce: Any) -> int:
    from engine.neon_restore import STEPS, run_neon_restore
    from engine.neon_restore_plan import plan_neon_restore
    from engine.restore_plan import RestoreFailed
    from engine.restore_report import RestoreRequest

    plan = plan_neon_restore(cfg, args.backup_id, args.target)
    ref = plan.source.ref
    reason = f' --reason "{args.reason}"' if args.reason else ' --reason "…"'
    slack = f"/backup restore {ref} --target {args.target}{reason}"
    glass = f"backupbot restore {ref} --target {args.target} --break-glass{reason}"
    if not args.break_glass:
        if args.json:
            emit_json(
                {
                    "dry_run": True,
                    "source": ref,
                    "target": args.target,
                    "plan": plan.summary(),
                    "steps": [title for _step, title in STEPS],
                    "request_in_slack": slack,
                    "break_glass": glass,
                }
            )
            return 0
        print(
            _("Dry run: nothing was changed. Restoring {ref} into '{target}' would:").format(
                ref=ref, target=args.target
            )
        )
        for name, value in plan.summary().items():
            print(f"  {name + ':':<20} {value.replace('`', '')}")
        print(_("Steps: {steps}").format(steps=" → ".join(_(title) for _step, title in STEPS)))
        print()
        print_fields(
            [(_("Ask for it in Slack (a lead approves):"), slack), (_("Only if Slack is down:"), glass)],
            gap=2,
        )
        return 0
    if not args.reason.strip():
        raise UsageError(
            _("--break-glass needs --reason"),
            detail=_("A restore without approval is written to the runbook and announced; it must say why."),
            hint=glass,
        )
    from jobs.freeze import check_not_frozen

    check_not_frozen(store, args.target, "restore", actor=who)
    store.audit(
        None,
        "break_glass_restore_started",
        who,
        {"source": ref, "target": args.target, "reason": args.reason},
    )
    announce(
        cfg,
        _(
            ":rotating_light: Break-glass Neon restore by {who}: {ref} into *{target}*, reason: {reason}. "
            "The current state is preserved as `{preserved}`. No Slack approval was asked for."
        ).format(who=who, ref=ref, target=args.target, reason=args.reason, preserved=plan.preserve),
    )
    request = RestoreRequest(
        backup_id=ref, target=args.target, requested_by=who, reason=args.reason, via="break-glass CLI"
    )
    params: dict[str, Any] = {"backup_id": ref, **plan.params()}
    try:
        report = run_neon_restore(cfg, request, params, state=store, on_step=_step_line)
    except RestoreFailed as failed:
        store.audit(None, "break_glass_restore_failed", who, {"restore_id": failed.report.restore_id})
        announce(
            cfg,
            _(":x: Break-glass Neon restore into *{target}* failed.").format(target=args.target)
            + "\n"
            + failed.report.runbook_text,
        )
        raise
    store.audit(
        None,
        "break_glass_restore_succeeded",
        who,
        {"restore_id": report.restore_id, "preserved": report.preserved},
    )
    announce(
        cfg,
        _(":white_check_mark: Break-glass Neon restore into *{target}* done.").format(target=args.target)
        + "\n"
        + report.runbook_text,
    )
    if args.json:
        emit_json(
            {
                "restore_id": report.restore_id,
                "source": ref,
                "target": args.target,
                "preserved": report.preserved,
                "state": report.state,
                "runbook_key": report.runbook_key,
            }
        )
    else:
        print(report.runbook_text)
    return 0
