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
from cli.output import emit_json
from core.config import Config, load_config

if TYPE_CHECKING:
    from engine.verify import VerifyReport


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "verify", help="prove a backup restores (checksum, contents, scratch restore, row counts)"
    )
    p.add_argument("backup_id", metavar="ID", help="backup id, unique prefix, or latest:<database>")
    add_json_flag(p)
    p.set_defaults(func=run)


def _line(rec: object) -> None:
    from engine.verify import VerifyStep

    assert isinstance(rec, VerifyStep)
    if rec.status == "running":
        print(f"[{rec.number}/4] {rec.title} …", file=sys.stderr, flush=True)
        return
    took = f" ({rec.seconds:.1f} s)" if rec.seconds is not None else ""
    print(
        f"[{rec.number}/4] {rec.title}: {rec.status}{took} {rec.detail}".rstrip(), file=sys.stderr, flush=True
    )


def _announce(cfg: Config, report: VerifyReport) -> None:
    """Post the outcome in the channel when Slack answers; a CLI verification is news there too."""
    from cli.restore import announce

    b = report.backup
    if report.passed:
        text = f":white_check_mark: Backup {b.id} of *{b.database}* verified from the CLI: all 4 steps passed"
    else:
        step = next((s for s in report.steps if s.status == "failed"), None)
        where = f" at step {step.number} ({step.title}): {step.detail}" if step else ""
        text = f":x: Verification of backup {b.id} of *{b.database}* failed{where}"
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
        print(f"{manifest.id}: verified, all 4 steps passed in {report.seconds:.1f} s ({report.record_key})")
    return 0
