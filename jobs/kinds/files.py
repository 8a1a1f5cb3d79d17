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

    with ctx.step("list the app's bucket → copy new and changed files → encrypt → upload"):
        result = sync_files(
            ctx.cfg,
            on_progress=lambda text: ctx.progress(safe(text)),
            cancel=ctx.cancel,
            now=ctx.clock() if ctx.clock else None,
        )
    run = result.run
    record = f"`{run.id}`" if run else "none"
    if result.copied:
        summary = (
            f"Copied {len(result.copied)} new or changed file(s) of the app's {result.total} into the backup"
        )
    elif result.gone:
        summary = (
            f"No new or changed files; {len(result.gone)} file(s) gone from the app's bucket are noted "
            "(their copies are kept)"
        )
    elif result.total == 0:
        summary = "The app's bucket holds no files under the configured prefixes"
    else:
        summary = f"Nothing changed in the app's bucket: all {result.total} file(s) were already backed up"
    fields = [
        ("Source", safe(run.source if run else ctx.cfg.files.source_url)),
        ("Copied", str(len(result.copied))),
        ("Unchanged", str(result.unchanged)),
        ("Record", record),
    ]
    if result.copied:
        names = fit([("", [f"`{safe(p)}`" for p in result.copied])], FIELD_BUDGET, "backupbot files list")
        fields.append(("New or changed", "\n".join(names)))
    if result.gone:
        fields.append(("Gone from the source (copies kept)", str(len(result.gone))))
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
        return f"… and {n} more (`{command}` lists all)"

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
    counts = (
        f"{report.checked} file(s) checked in `{report.run_id}`: {ok['xml']} XML and "
        f"{ok['certificate']} certificate file(s) good, {ok['other']} other file(s) match their sha256, "
        f"{len(report.bad)} bad; {len(report.expired)} certificate(s) expired, "
        f"{len(report.expiring)} expire within {report.warning_days} days."
    )
    lines = fit(
        [
            ("Bad files:", [f"• `{safe(f.path)}` — {safe(f.problem, 240)}" for f in report.bad]),
            ("Expired certificates:", ["• " + line for line in _cert_lines(report.expired)]),
            (
                f"Expiring within {report.warning_days} days:",
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
        title=f"The backup of the app's files has bad files (job {ctx.job.id})",
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
    with ctx.step("decrypt each backed-up file → check XML and certificates"):
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
            f"{len(report.bad)} of {report.checked} backed-up app file(s) failed the check",
            detail="\n".join([counts, *lines]),
            hint="Compare with the app's bucket: a bad file there is the app's to fix (then run "
            "`/backup files sync`); a damaged copy here means restoring it from an earlier backup "
            "(`backupbot files restore PATH --at DATE -o FILE`).",
        )
        if "schedule" not in ctx.job.params:  # the scheduler alerts for its own runs
            _alert_oncall(ctx, err)
        raise err
    summary = f"All {report.checked} backed-up app file(s) are good"
    fields: list[tuple[str, str]] = [("Checked", counts)]
    if report.expired:
        fields.append(
            ("Expired certificates", "\n".join(fit([("", _cert_lines(report.expired))], FIELD_BUDGET)))
        )
    if report.expiring:
        expiring = "\n".join(fit([("", _cert_lines(report.expiring))], FIELD_BUDGET))
        fields.append((f"Expiring within {report.warning_days} days", expiring))
    return Outcome(summary=summary, fields=tuple(fields), data=report.to_dict())


def on_sync_interrupted(ctx: JobContext) -> str:
    from adapters.storage import open_storage

    aborted = open_storage(ctx.cfg.storage).abort_incomplete("files/data/")
    return f"{aborted} partial upload(s) aborted." if aborted else "No partial upload was left behind."


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
