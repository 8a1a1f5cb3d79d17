"""`/backup files sync|verify|list`: the application's certificates and XML files.

``sync`` and ``verify`` are jobs (their message in the channel carries the outcome);
``list`` reads the newest record from the bucket, so it answers "looking" at once and
the list follows. Nothing here touches the app's bucket: the jobs only ever read it.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

from commands.base import ArgParser, Invocation, Reply, Subcommand, queued_reply, usage_hint
from core.config import Config
from core.errors import BackupbotError, UsageError
from core.i18n import N_, _, ngettext
from jobs.queue import enqueue

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
        raise UsageError(_("files sync takes no --at"), hint=usage_hint("/backup files sync"))
    parse_at(ns.at)  # a wrong date is refused now, not in the job
    return FilesRequest(ns.action, ns.at.strip())


def _queue(inv: Invocation, kind: str, params: dict[str, str], said: Callable[[int], str]) -> Reply:
    job = enqueue(
        inv.store, kind, None, params, requested_by=inv.user, channel=inv.channel, reporter=inv.reporter
    )
    inv.wake()
    return queued_reply(inv, job, said)


def render_list(req: FilesRequest, inv: Invocation) -> Reply:
    from commands.grammar import error_text
    from core.slack_text import escape
    from engine.files_restore import list_files, parse_at
    from jobs.kinds.files import safe

    try:
        run = list_files(inv.cfg, parse_at(req.at))
    except BackupbotError as err:
        return Reply(error_text(err))
    count = ngettext("{n} file(s)", "{n} file(s)", len(run.files)).format(n=len(run.files))
    lines = [
        _("*The app's files in `{run}`* ({count}, {at} UTC)").format(
            run=run.id, count=count, at=f"{run.created_at:%Y-%m-%d %H:%M}"
        )
    ]
    for f in run.files[:SHOW]:
        copied = _("copied in `{run}`").format(run=escape(f.copied_in))
        lines.append(f"• `{escape(safe(f.path))}` · {f.size} B · sha256 {escape(f.sha256[:12])} · {copied}")
    if len(run.files) > SHOW:
        lines.append(_("… and {n} more not shown here.").format(n=len(run.files) - SHOW))
    return Reply("\n".join(lines))


def handle(req: FilesRequest, inv: Invocation) -> Reply:
    if req.action == "sync":
        return _queue(
            inv,
            "files_sync",
            {},
            lambda job: _("Queued a backup of the app's files as job {job}.").format(job=job),
        )
    if req.action == "verify":
        params = {"at": req.at} if req.at else {}
        return _queue(
            inv,
            "files_verify",
            params,
            lambda job: _("Queued a check of the backed-up app files as job {job}.").format(job=job),
        )
    return Reply(_("Looking up the app's files in the backup…"), later=lambda: render_list(req, inv))


SPEC = Subcommand(
    name="files",
    usage=USAGE,
    summary=N_("back up the app's certificates and XML now, check the backed-up copies, or list them"),
    build=build,
    request=request,
    handle=handle,
    examples=("files sync", "files verify", "files list --at 2026-12-01"),
)
