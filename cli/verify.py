"""``backupbot verify ID``: prove a backup restores, from a terminal or a pipeline.

Exit 0 only when all four steps passed; the outcome is also written beside the manifest,
so ``backupbot list`` and ``/backup list`` show it. Leftover scratch databases of a run
that was killed are dropped before anything else.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from cli.dump import add_json_flag
from cli.output import emit_json, step_line
from core.config import Config, load_config
from core.i18n import _

if TYPE_CHECKING:
    from engine.verify import VerifyReport


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "verify", help=_("prove a backup restores (checksum, contents, scratch restore, row counts)")
    )
    p.add_argument("backup_id", metavar="ID", help=_("backup id, unique prefix, or latest:<database>"))
    add_json_flag(p)
    p.set_defaults(func=run)


def _line(rec: object) -> None:
    from engine.verify import VerifyStep

    assert isinstance(rec, VerifyStep)
    if rec.status == "running":
        print(f"[{rec.number}/4] {rec.title} …", file=sys.stderr, flush=True)
        return
    print(
        step_line(rec.number, 4, rec.title, rec.status, rec.seconds, rec.detail), file=sys.stderr, flush=True
    )


def _announce(cfg: Config, report: VerifyReport) -> None:
    """Post the outcome in the channel when Slack answers; a CLI verification is news there too."""
    from cli.restore import announce

    b = report.backup
    if report.passed:
        text = _(":white_check_mark: Backup {id} of *{db}* verified from the CLI: all 4 steps passed").format(
            id=b.id, db=b.database
        )
    else:
        step = next((s for s in report.steps if s.status == "failed"), None)
        if step:
            text = _(
                ":x: Verification of backup {id} of *{db}* failed at step {n} ({title}): {detail}"
            ).format(id=b.id, db=b.database, n=step.number, title=step.title, detail=step.detail)
        else:
            text = _(":x: Verification of backup {id} of *{db}* failed").format(id=b.id, db=b.database)
    times = ", ".join(f"{s.title} {s.seconds or 0:.1f} s" for s in report.steps if s.seconds is not None)
    announce(cfg, f"{text}\n{times}")


def run(args: argparse.Namespace) -> int:
    from engine.catalog import get_backup
    from engine.verify import VerifyFailed, verify_backup
    from jobs.scratch_book import StoreScratchBook
    from jobs.store import Store

    cfg = load_config(args.config)
    manifest = get_backup(cfg, args.backup_id)
    book = StoreScratchBook(Store.for_config(cfg))
    try:
        report = verify_backup(cfg, manifest, book, on_step=None if args.json else _line)
    except VerifyFailed as failed:
        _announce(cfg, failed.report)
        if args.json:
            emit_json(failed.report.outcome() | {"error": failed.as_dict()})
        print(failed.render(), file=sys.stderr)
        return failed.exit_code
    _announce(cfg, report)
    if args.json:
        emit_json(report.outcome() | {"record_key": report.record_key})
    else:
        print(
            _("{id}: verified, all 4 steps passed in {seconds} s ({record})").format(
                id=manifest.id, seconds=f"{report.seconds:.1f}", record=report.record_key
            )
        )
    return 0
