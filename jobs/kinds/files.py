"""The ``files_sync`` and ``files_verify`` jobs: the application's certificates and XML.

The engine does the work (``engine.files_sync``, ``engine.files_verify``); this module
turns its results into what the channel reads. File names and certificate subjects come
from the application's bucket, so they are untrusted text: ``&``, ``<`` and ``>`` are
escaped (no ``<!channel>`` from a file name) and backticks removed before they reach Slack.

A check that finds bad files fails the job, so the message is red and names them. Who
tells on-call: for a scheduled check the scheduler does, as for any failed nightly job
(with a Retry button); for one somebody asked for, this module does, once per job.
"""

from __future__ import annotations

from typing import Any

from core.errors import BackupbotError
from core.i18n import _, ngettext, pgettext
from jobs.context import JobContext
from jobs.events import Alert, Outcome
from jobs.kinds import JobKind


class FilesCheckFailed(BackupbotError):
    """The backup of the app's files holds files that do not decrypt, match, parse or load."""


def safe(text: str, limit: int = 200) -> str:
    """Untrusted text on one line, short, without backticks (it goes inside them).

    Escaping for Slack (``&``, ``<``, ``>``) happens where the message is built
    (``bot/render.py``), once; the console and the CLI show the text as it is.
    """
    text = text.replace("`", "'")
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def run_sync(ctx: JobContext) -> Outcome:
    from engine.files_sync import sync_files

    with ctx.step(_("list the app's bucket → copy new and changed files → encrypt → upload")):
        result = sync_files(
            ctx.cfg,
            on_progress=lambda text: ctx.progress(safe(text)),
            cancel=ctx.cancel,
            now=ctx.clock() if ctx.clock else None,
        )
    run = result.run
    record = f"`{run.id}`" if run else pgettext("files run", "none")
    if result.copied:
        # English says "file(s)" either way; the plural forms let a translation agree with the count.
        summary = ngettext(
            "Copied {n} new or changed file(s) of the app's {total} into the backup",
            "Copied {n} new or changed file(s) of the app's {total} into the backup",
            len(result.copied),
        ).format(n=len(result.copied), total=result.total)
    elif result.gone:
        summary = ngettext(
            "No new or changed files; {n} file(s) gone from the app's bucket are noted (their copies are kept)",
            "No new or changed files; {n} file(s) gone from the app's bucket are noted (their copies are kept)",
            len(result.gone),
        ).format(n=len(result.gone))
    elif result.total == 0:
        summary = _("The app's bucket holds no files under the configured prefixes")
    else:
        summary = ngettext(
            "Nothing changed in the app's bucket: all {n} file(s) were already backed up",
            "Nothing changed in the app's bucket: all {n} file(s) were already backed up",
            result.total,
        ).format(n=result.total)
    fields = [
        (_("Source"), safe(run.source if run else ctx.cfg.files.source_url)),
        (_("Copied"), str(len(result.copied))),
        (_("Unchanged"), str(result.unchanged)),
        (_("Record"), record),
    ]
    if result.copied:
        names = fit([("", [f"`{safe(p)}`" for p in result.copied])], FIELD_BUDGET, "backupbot files list")
        fields.append((_("New or changed"), "\n".join(names)))
    if result.gone:
        fields.append((_("Gone from the source (copies kept)"), str(len(result.gone))))
    return Outcome(
        summary=summary,
        fields=tuple(fields),
        data={
            "run_id": run.id if run else None,
            "copied": result.copied,
            "unchanged": result.unchanged,
            "gone": result.gone,
            "copied_bytes": result.copied_bytes,
            "seconds": result.seconds,
        },
    )


DETAIL_BUDGET = 2400  # Slack refuses a section text over 3000 characters; message and hint share it
FIELD_BUDGET = 1900  # ... and a section field over 2000


def fit(
    sections: list[tuple[str, list[str]]], budget: int, command: str = "backupbot files verify"
) -> list[str]:
    """Headed lists cut to ``budget`` characters, each cut list ending in how many more there are.

    A list with no room even for its heading and "… and N more" is left out; the counts
    line above the lists still says how many it had.
    """
    out: list[str] = []
    used = 0

    def more(n: int) -> str:
        return _("… and {n} more (`{command}` lists all)").format(n=n, command=command)

    for heading, lines in sections:
        if not lines:
            continue
        head = len(heading) + 1 if heading else 0
        if used + head + len(more(len(lines))) + 1 > budget:
            continue
        if heading:
            out.append(heading)
            used += head
        for n, line in enumerate(lines):
            rest = more(len(lines) - n)
            last = n == len(lines) - 1
            if used + len(line) + 1 + (0 if last else len(rest) + 1) > budget:
                out.append(rest)
                used += len(rest) + 1
                break
            out.append(line)
            used += len(line) + 1
    return out


def _cert_lines(certs: list[Any]) -> list[str]:
    return [f"`{safe(c.path)}` — {safe(c.subject, 120)} — {c.not_after:%Y-%m-%d}" for c in certs]


def report_lines(report: Any) -> tuple[str, list[str]]:
    """Counts, bad files, then expired and expiring certificates: the body of the channel's report."""
    ok = report.ok
    counts = _(
        "{checked} file(s) checked in `{run}`: {xml} XML and {certs} certificate file(s) good, "
        "{other} other file(s) match their sha256, {bad} bad; {expired} certificate(s) expired, "
        "{expiring} expire within {days} days."
    ).format(
        checked=report.checked,
        run=report.run_id,
        xml=ok["xml"],
        certs=ok["certificate"],
        other=ok["other"],
        bad=len(report.bad),
        expired=len(report.expired),
        expiring=len(report.expiring),
        days=report.warning_days,
    )
    lines = fit(
        [
            (_("Bad files:"), [f"• `{safe(f.path)}` — {safe(f.problem, 240)}" for f in report.bad]),
            (_("Expired certificates:"), ["• " + line for line in _cert_lines(report.expired)]),
            (
                _("Expiring within {days} days:").format(days=report.warning_days),
                ["• " + line for line in _cert_lines(report.expiring)],
            ),
        ],
        DETAIL_BUDGET - len(counts),
    )
    return counts, lines


def _alert_oncall(ctx: JobContext, err: FilesCheckFailed) -> None:
    from jobs import alerts, schedule_runs

    schedule_runs.ensure_schema(ctx.store)
    key = f"files-bad:{ctx.job.id}"
    alert = Alert(
        title=_("The backup of the app's files has bad files (job {id})").format(id=ctx.job.id),
        severity="failure",
        error=err.as_dict(),
        job_id=ctx.job.id,
        mention=alerts.oncall_mention(ctx.cfg),
    )
    alerts.announce(ctx.store, ctx.reporter, key, alert, lambda: ctx.store.kv_claim(key, True))


def run_verify(ctx: JobContext) -> Outcome:
    from engine.files_restore import parse_at
    from engine.files_verify import verify_files

    at = parse_at(ctx.job.params.get("at"))
    with ctx.step(_("decrypt each backed-up file → check XML and certificates")):
        report = verify_files(
            ctx.cfg,
            at,
            now=ctx.clock() if ctx.clock else None,
            on_progress=lambda text: ctx.progress(safe(text)),
            cancel=ctx.cancel,
        )
    counts, lines = report_lines(report)
    if report.bad:
        err = FilesCheckFailed(
            ngettext(
                "{bad} of {n} backed-up app file(s) failed the check",
                "{bad} of {n} backed-up app file(s) failed the check",
                report.checked,
            ).format(bad=len(report.bad), n=report.checked),
            detail="\n".join([counts, *lines]),
            hint=_(
                "Compare with the app's bucket: a bad file there is the app's to fix (then run "
                "`/backup files sync`); a damaged copy here means restoring it from an earlier backup "
                "(`backupbot files restore PATH --at DATE -o FILE`)."
            ),
        )
        if "schedule" not in ctx.job.params:  # the scheduler alerts for its own runs
            _alert_oncall(ctx, err)
        raise err
    summary = ngettext(
        "All {n} backed-up app file(s) are good", "All {n} backed-up app file(s) are good", report.checked
    ).format(n=report.checked)
    fields: list[tuple[str, str]] = [(_("Checked"), counts)]
    if report.expired:
        fields.append(
            (_("Expired certificates"), "\n".join(fit([("", _cert_lines(report.expired))], FIELD_BUDGET)))
        )
    if report.expiring:
        expiring = "\n".join(fit([("", _cert_lines(report.expiring))], FIELD_BUDGET))
        fields.append((_("Expiring within {days} days").format(days=report.warning_days), expiring))
    return Outcome(summary=summary, fields=tuple(fields), data=report.to_dict())


def on_sync_interrupted(ctx: JobContext) -> str:
    from adapters.storage import open_storage

    aborted = open_storage(ctx.cfg.storage).abort_incomplete("files/data/")
    if not aborted:
        return _("No partial upload was left behind.")
    return ngettext("{n} partial upload(s) aborted.", "{n} partial upload(s) aborted.", aborted).format(
        n=aborted
    )


SYNC = JobKind(
    name="files_sync",
    run=run_sync,
    on_interrupted=on_sync_interrupted,
    description="copy the app's new and changed certificates and XML into the backup",
)
VERIFY = JobKind(
    name="files_verify",
    run=run_verify,
    description="decrypt the backed-up app files and check their XML and certificates",
)
