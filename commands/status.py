"""`/backup status [JOB]`: what is running and queued, or one job in detail."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from commands.base import ArgParser, Invocation, Reply, Subcommand, parse_job_id
from core.config import Config
from core.i18n import N_, _
from core.redact import redact
from core.slack_text import chat_commands, cut, escape, mention
from jobs.status import ACTIVE
from jobs.store import Job


@dataclass(frozen=True)
class StatusRequest:
    job_id: int | None = None


def build(p: ArgParser) -> None:
    p.add_argument("job", metavar="JOB", nargs="?", type=parse_job_id)


def request(ns: argparse.Namespace, cfg: Config) -> StatusRequest:
    return StatusRequest(job_id=ns.job)


def one_line(job: Job) -> str:
    """``⏳ job 12: dump `prod` queued by @ana`` — the kind is a key (a translation shows it as code)."""
    extra = f" — {escape(cut(job.progress, 300))}" if job.progress and job.status.value == "running" else ""
    fields = {
        "job": job.id,
        "kind": escape(job.kind),
        "db": escape(job.database or "-"),
        "status": job.status.label,
    }
    if job.requested_by:
        line = _("job {job}: {kind} `{db}` {status} by {who}").format(who=mention(job.requested_by), **fields)
    else:
        line = _("job {job}: {kind} `{db}` {status}").format(**fields)
    return f"{job.status.emoji} {line}{extra}"


def detail(job: Job) -> str:
    lines = [one_line(job), _("queued {at}").format(at=job.created_at)]
    if job.started_at:
        lines.append(_("started {at}").format(at=job.started_at))
    if job.finished_at:
        lines.append(_("ended {at}").format(at=job.finished_at))
    if job.params.get("reason"):
        lines.append(_("reason: {reason}").format(reason=escape(cut(str(job.params["reason"]), 2000))))
    if job.result:
        lines.append(escape(str(job.result.get("summary", ""))))
    if job.error:
        lines += [escape(str(job.error.get(k))) for k in ("message", "detail", "hint") if job.error.get(k)]
    return chat_commands(redact("\n".join(lines)))


def handle(req: StatusRequest, inv: Invocation) -> Reply:
    if req.job_id is not None:
        return Reply(detail(inv.store.get_job(req.job_id)))
    active = inv.store.list_jobs(statuses=ACTIVE, limit=50)
    recent = [j for j in inv.store.list_jobs(limit=10) if j.status not in ACTIVE][:5]
    lines = (
        [_("*Active jobs*")] + [one_line(j) for j in reversed(active)]
        if active
        else [_("No job is running or queued.")]
    )
    if recent:
        lines += [_("*Recent*")] + [one_line(j) for j in recent]
    return Reply("\n".join(lines))


SPEC = Subcommand(
    name="status",
    usage="status [JOB]",
    summary=N_("running and queued jobs, or one job in detail"),
    build=build,
    request=request,
    handle=handle,
    examples=("status", "status 12"),
)
