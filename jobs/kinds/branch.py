"""The ``branch`` job: one Neon backup branch, done once Neon says the branch is ready."""

from __future__ import annotations

from core.i18n import _
from core.units import human_bytes
from jobs.context import JobContext
from jobs.events import Outcome
from jobs.kinds import JobKind


def run(ctx: JobContext) -> Outcome:
    from engine.neon_branches import create_backup_branch, parse_time

    params = ctx.job.params
    at = parse_time(str(params["at"])) if params.get("at") else None
    with ctx.step(_("Neon branch of {db}").format(db=ctx.database)):
        b = create_backup_branch(
            ctx.cfg,
            ctx.database,
            name=str(params.get("name") or "") or None,
            at=at,
            kind=str(params.get("kind", "manual")),
            reason=str(params.get("reason", "")),
            requested_by=ctx.job.requested_by or "bot",
            git_sha=str(params.get("git_sha", "")),
            keep=bool(params.get("keep")),
            now=ctx.clock() if ctx.clock else None,
            on_wait=lambda text: ctx.progress(_("waiting for Neon: {text}").format(text=text)),
        )
    fields = [
        (_("Branch"), f"`{b.name}` ({b.id})"),
        (
            _("Parent"),
            _("`{parent}` at {at}").format(parent=b.parent_name or b.parent_id, at=b.point_in_time),
        ),
        (_("Size"), human_bytes(b.size_bytes)),
        (_("Expires"), b.expires_at or _("never (--keep)")),
    ]
    if b.reason:
        fields.append((_("Reason"), b.reason))
    return Outcome(
        summary=_("Neon backup branch `{name}` is ready").format(name=b.name),
        fields=tuple(fields),
        data={"branch": b.as_dict()},
    )


KIND = JobKind(name="branch", run=run, description="a Neon backup branch of one database")
