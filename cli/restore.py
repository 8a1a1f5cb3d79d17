"""``backupbot restore``: the same runbook from a terminal, for when Slack itself is down.

Without ``--break-glass`` it only shows what would happen (the preflight and the eight
steps) and how to ask for it in Slack, so typing the command is never the thing that
overwrites a database. With ``--break-glass`` and a reason it runs without an approval
but after the same preflight a Slack request passes (what it refuses, e.g. a clean
restore over partitioned tables, is refused here too, before anything is announced or
changed): that is why it is audited in the store, written to the runbook like any
restore, and announced in the channel whenever Slack answers.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any

from cli.dump import add_json_flag
from cli.output import emit_json
from core.config import Config, load_config
from core.errors import UsageError
from core.identity import break_glass_identity
from core.redact import redact

if TYPE_CHECKING:  # imported where used: `backupbot dump` should not pay for the restore engine
    from engine.restore import RestoreReport, StepRecord
    from jobs.store import Store


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "restore",
        help="restore a backup into a database (dry run unless --break-glass)",
        description="Without --break-glass: show what the restore would do. With it: run it now, without "
        "Slack approval (audited and announced).",
    )
    p.add_argument(
        "backup_id",
        metavar="ID",
        help="backup id, unique prefix, latest:<database>, neon:BRANCH, neon@TIMESTAMP or neon-snapshot:NAME",
    )
    p.add_argument("--target", required=True, help="configured database to overwrite")
    p.add_argument("--break-glass", action="store_true", help="run now without a Slack approval")
    p.add_argument("--reason", default="", help="why (required with --break-glass; goes into the runbook)")
    add_json_flag(p)
    p.set_defaults(func=run)


def announce(cfg: Config, text: str) -> bool:
    """Post to the channel if Slack answers; a down Slack must not stop a break-glass restore."""
    token = os.environ.get("SLACK_BOT_TOKEN", "")
    if not token or not cfg.slack.channel:
        return False
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    base = os.environ.get("SLACK_API_URL") or WebClient.BASE_URL
    client = WebClient(token=token, base_url=base.rstrip("/") + "/", timeout=10)
    try:
        client.chat_postMessage(channel=cfg.slack.channel, text=text, unfurl_links=False)
        return True
    except (SlackApiError, OSError) as exc:
        print(f"warning: could not announce in Slack: {redact(str(exc))[:200]}", file=sys.stderr)
        return False


def _step_line(rec: StepRecord) -> None:
    if rec.status == "running":
        print(f"[{rec.number}/{rec.total}] {rec.title} …", file=sys.stderr, flush=True)
        return
    took = f" ({rec.seconds:.1f} s)" if rec.seconds is not None else ""
    print(
        f"[{rec.number}/{rec.total}] {rec.title}: {rec.status}{took} {rec.detail}".rstrip(),
        file=sys.stderr,
        flush=True,
    )


def _dry_run(cfg: Config, args: argparse.Namespace, store: Store) -> int:
    from engine.catalog import get_backup
    from engine.restore_plan import plan_lines, preflight

    manifest = get_backup(cfg, args.backup_id)
    pre = preflight(cfg, manifest, args.target, state=store)
    steps = plan_lines(cfg, args.target, pre.mode, pre.method, roles=bool(manifest.globals_key))
    reason = f' --reason "{args.reason}"' if args.reason else ' --reason "…"'
    slack = f"/backup restore {manifest.id} --target {args.target}{reason}"
    glass = f"backupbot restore {manifest.id} --target {args.target} --break-glass{reason}"
    if args.json:
        emit_json(
            {
                "dry_run": True,
                "backup_id": manifest.id,
                "target": args.target,
                "preflight": pre.fields,
                "blocking": list(pre.blocking),
                "warnings": list(pre.warnings),
                "steps": steps,
                "request_in_slack": slack,
                "break_glass": glass,
            }
        )
        return 0
    print(f"Dry run: nothing was changed. Restoring {manifest.id} into '{args.target}' would:")
    from jobs.people import names_if_store, plain_mentions

    known = names_if_store(cfg)
    for name, value in pre.fields.items():
        print(f"  {name + ':':<18} {plain_mentions(value, known)}")
    for text in pre.blocking:
        print(f"  BLOCKED: {text}")
    for text in pre.warnings:
        print(f"  warning: {text}")
    print("Steps:")
    for line in steps:
        print(f"  {line}")
    print(f"\nAsk for it in Slack (a lead approves):  {slack}")
    print(f"Only if Slack is down:                  {glass}")
    return 0


def _summary(report: RestoreReport) -> dict[str, Any]:
    return {
        "restore_id": report.restore_id,
        "backup_id": report.backup.id,
        "target": report.request.target,
        "succeeded": report.succeeded,
        "state": report.state,
        "safety_id": report.safety_id,
        "runbook_key": report.runbook_key,
        "steps": [
            {
                "number": s.number,
                "step": s.title,
                "status": s.status,
                "seconds": s.seconds,
                "detail": s.detail,
            }
            for s in report.steps
        ],
    }


def run(args: argparse.Namespace) -> int:
    from engine.catalog import get_backup
    from engine.restore import RestoreRequest, run_restore
    from engine.restore_plan import RestoreFailed
    from jobs.store import Store

    cfg = load_config(args.config)
    cfg.database(args.target)
    store = Store.for_config(cfg)
    if args.backup_id.strip().lower().startswith(("neon:", "neon@", "neon-snapshot:")):
        from cli.neon_restore import run_neon

        return run_neon(cfg, args, store, break_glass_identity(), announce)
    if not args.break_glass:
        return _dry_run(cfg, args, store)
    if not args.reason.strip():
        raise UsageError(
            "--break-glass needs --reason",
            detail="A restore without approval is written to the runbook and announced; it must say why.",
            hint=f'backupbot restore {args.backup_id} --target {args.target} --break-glass --reason "…"',
        )
    who = break_glass_identity()
    from jobs.freeze import check_not_frozen

    check_not_frozen(store, args.target, "restore", actor=who)
    manifest = get_backup(cfg, args.backup_id)
    # The same read-only preflight a Slack request passes: break glass skips the approval, not the safety.
    from engine.restore_plan import preflight, require_ok

    require_ok(preflight(cfg, manifest, args.target, state=store))
    store.audit(
        None,
        "break_glass_restore_started",
        who,
        {"backup_id": manifest.id, "target": args.target, "reason": args.reason},
    )
    announce(
        cfg,
        f":rotating_light: Break-glass restore by {who}: {manifest.id} into *{args.target}*, "
        f"reason: {args.reason}. No Slack approval was asked for.",
    )
    request = RestoreRequest(
        backup_id=manifest.id, target=args.target, requested_by=who, reason=args.reason, via="break-glass CLI"
    )
    try:
        report = run_restore(cfg, request, state=store, on_step=_step_line, backup=manifest)
    except RestoreFailed as failed:
        store.audit(None, "break_glass_restore_failed", who, _summary(failed.report))
        announce(cfg, f":x: Break-glass restore into *{args.target}* failed.\n{failed.report.runbook_text}")
        if not args.json:
            raise
        emit_json({**_summary(failed.report), **failed.as_dict()})
        print(failed.render(), file=sys.stderr)
        return failed.exit_code
    store.audit(None, "break_glass_restore_succeeded", who, _summary(report))
    announce(cfg, f":white_check_mark: Break-glass restore into *{args.target}* done.\n{report.runbook_text}")
    if args.json:
        emit_json(_summary(report))
    else:
        print(report.runbook_text)
    return 0
