"""`/backup files sync|verify|list`: the application's certificates and XML files.

``sync`` and ``verify`` are jobs (their message in the channel carries the outcome);
``list`` reads the newest record from the bucket, so it answers "looking" at once and
the list follows. Nothing here touches the app's bucket: the jobs only ever read it.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from commands.base import ArgParser, Invocation, Reply, Subcommand
from core.config import Config
from core.errors import BackupbotError, UsageError
from jobs.queue import ahead_of, enqueue

USAGE = "files sync|verify|list [--at DATE]"
SHOW = 20


@dataclass(frozen=True)
class FilesRequest:
    action: str
    at: str = ""


def build(p: ArgParser) -> None:
    p.add_argument("action", choices=["sync", "verify", "list"])
    p.add_argument("--at", default="")


def request(ns: argparse.Namespace, cfg: Config) -> FilesRequest:
    from engine.files_restore import parse_at
    from engine.files_sync import files_config

    files_config(cfg)  # a clear "not configured" before anything is queued
    if ns.at and ns.action == "sync":
        raise UsageError("files sync takes no --at", hint="Usage: `/backup files sync`")
    parse_at(ns.at)  # a wrong date is refused now, not in the job
    return FilesRequest(ns.action, ns.at.strip())


def _queue(inv: Invocation, kind: str, params: dict[str, str], what: str) -> Reply:
    job = enqueue(
        inv.store, kind, None, params, requested_by=inv.user, channel=inv.channel, reporter=inv.reporter
    )
    inv.wake()
    waiting = ahead_of(inv.store, job)
    behind = f", after job {waiting[-1].id}" if waiting else ""
    return Reply(f"Queued {what} as job {job.id}{behind}.", job_id=job.id)


def render_list(req: FilesRequest, inv: Invocation) -> Reply:
    from commands.grammar import error_text
    from core.slack_text import escape
    from engine.files_restore import list_files, parse_at
    from jobs.kinds.files import safe

    try:
        run = list_files(inv.cfg, parse_at(req.at))
    except BackupbotError as err:
        return Reply(error_text(err))
    lines = [
        f"*The app's files in `{run.id}`* ({len(run.files)} file(s), {run.created_at:%Y-%m-%d %H:%M} UTC)"
    ]
    for f in run.files[:SHOW]:
        lines.append(
            f"• `{escape(safe(f.path))}` · {f.size} B · sha256 {escape(f.sha256[:12])} · copied in `{escape(f.copied_in)}`"
        )
    if len(run.files) > SHOW:
        lines.append(f"… and {len(run.files) - SHOW} more not shown here.")
    return Reply("\n".join(lines))


def handle(req: FilesRequest, inv: Invocation) -> Reply:
    if req.action == "sync":
        return _queue(inv, "files_sync", {}, "a backup of the app's files")
    if req.action == "verify":
        params = {"at": req.at} if req.at else {}
        return _queue(inv, "files_verify", params, "a check of the backed-up app files")
    return Reply("Looking up the app's files in the backup…", later=lambda: render_list(req, inv))


SPEC = Subcommand(
    name="files",
    usage=USAGE,
    summary="back up the app's certificates and XML now, check the backed-up copies, or list them",
    build=build,
    request=request,
    handle=handle,
    examples=("files sync", "files verify", "files list --at 2026-12-01"),
)
