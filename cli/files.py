"""``backupbot files sync|verify|list|restore``: the application's certificates and XML from a terminal.

The same engine as `/backup files`: sync copies what changed into the backup bucket,
verify decrypts every backed-up copy and checks it (exit 1 when a file is bad), list and
restore read the record the bucket keeps, so they work from any machine with the key.
"""

from __future__ import annotations

import argparse
import sys

from cli.dump import add_json_flag
from cli.output import emit_json, human_size
from core.config import load_config
from core.i18n import _, ngettext
from engine.files_restore import list_files, parse_at, restore_file


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("files", help=_("back up, check, list and restore the application's files"))
    verbs = p.add_subparsers(dest="files_command", metavar="ACTION")
    verbs.required = True

    s = verbs.add_parser("sync", help=_("copy new and changed files of the app's bucket into the backup"))
    add_json_flag(s)
    s.set_defaults(func=run_sync)

    v = verbs.add_parser("verify", help=_("decrypt every backed-up file and check its XML or certificate"))
    v.add_argument("--at", help=_("check the backup as it was at DATE (default: the newest)"))
    add_json_flag(v)
    v.set_defaults(func=run_verify)

    ls = verbs.add_parser("list", help=_("the files in the backup, as they were at a date"))
    ls.add_argument("--at", help=_("DATE (2026-12-01: end of that day, UTC) or time (2026-12-01T14:00Z)"))
    add_json_flag(ls)
    ls.set_defaults(func=run_list)

    r = verbs.add_parser("restore", help=_("get one file back as it was at a date"))
    r.add_argument("path", help=_("the file's key in the app's bucket, e.g. certs/signing.p12"))
    r.add_argument("--at", help=_("DATE (2026-12-01: end of that day, UTC) or time (2026-12-01T14:00Z)"))
    r.add_argument(
        "-o",
        "--output",
        required=True,
        help=_("file to write (- for stdout); never overwritten without --force"),
    )
    r.add_argument("--force", action="store_true", help=_("replace --output if it exists"))
    add_json_flag(r)
    r.set_defaults(func=run_restore)


def run_sync(args: argparse.Namespace) -> int:
    from engine.files_sync import sync_files

    result = sync_files(load_config(args.config))
    run = result.run
    if args.json:
        emit_json(
            {
                "run_id": run.id if run else None,
                "copied": result.copied,
                "unchanged": result.unchanged,
                "gone": result.gone,
                "copied_bytes": result.copied_bytes,
                "wrote_manifest": result.wrote_manifest,
            }
        )
        return 0
    print(
        _("copied {n} file(s) ({size}), {unchanged} unchanged").format(
            n=len(result.copied), size=human_size(result.copied_bytes), unchanged=result.unchanged
        )
    )
    for path in result.copied:
        print(f"  + {path}")
    for path in result.gone:
        print("  - " + _("{path} (gone from the source; its copies stay)").format(path=path))
    if run:
        if result.wrote_manifest:
            text = _("record: {id} ({n} file(s))")
        else:
            text = _("record: {id} ({n} file(s)), unchanged")
        print(text.format(id=run.id, n=len(run.files)))
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from engine.files_verify import verify_files

    report = verify_files(load_config(args.config), parse_at(args.at))
    if args.json:
        emit_json(report.to_dict())
        return 1 if report.bad else 0
    ok = report.ok
    print(
        _(
            "{n} file(s) checked in {run}: {xml} XML and {certs} certificate file(s) good, "
            "{other} other file(s) match their sha256, {bad} bad"
        ).format(
            n=report.checked,
            run=report.run_id,
            xml=ok["xml"],
            certs=ok["certificate"],
            other=ok["other"],
            bad=len(report.bad),
        )
    )
    marks = {"bad": _("BAD"), "expired": _("EXPIRED"), "expiring": _("EXPIRING")}
    width = max(len(m) for m in marks.values()) + 2
    for f in report.bad:
        print(f"  {marks['bad']:<{width}}{f.path}: {f.problem}")
    for c in report.expired:
        print(f"  {marks['expired']:<{width}}{c.path}: {c.subject}, {c.not_after:%Y-%m-%d}")
    for c in report.expiring:
        within = ngettext("(within {n} day)", "(within {n} days)", report.warning_days).format(
            n=report.warning_days
        )
        print(f"  {marks['expiring']:<{width}}{c.path}: {c.subject}, {c.not_after:%Y-%m-%d} {within}")
    return 1 if report.bad else 0


def run_list(args: argparse.Namespace) -> int:
    run = list_files(load_config(args.config), parse_at(args.at))
    if args.json:
        emit_json(
            {
                "run_id": run.id,
                "created_at": run.created_at.isoformat(),
                "files": [vars(f) for f in run.files],
            }
        )
        return 0
    print(
        _("{id} ({time} UTC): {n} file(s)").format(
            id=run.id, time=f"{run.created_at:%Y-%m-%d %H:%M}", n=len(run.files)
        )
    )
    for f in run.files:
        print(
            "  "
            + _("{path}  {size}  sha256 {sha}  copied in {run}").format(
                path=f.path, size=human_size(f.size), sha=f.sha256[:16], run=f.copied_in
            )
        )
    return 0


def run_restore(args: argparse.Namespace) -> int:
    done = restore_file(load_config(args.config), args.path, args.output, parse_at(args.at), force=args.force)
    if args.json and args.output != "-":
        emit_json(vars(done))
    elif args.output != "-":
        print(
            _("restored {path} as it was in {run} (copied in {copied}) to {output}").format(
                path=done.path, run=done.run_id, copied=done.copied_in, output=done.output
            )
        )
        print("  " + _("{size}, sha256 {sha} (verified)").format(size=human_size(done.size), sha=done.sha256))
    else:
        print(
            _("restored {path} from {run}, sha256 {sha} (verified)").format(
                path=done.path, run=done.run_id, sha=done.sha256
            ),
            file=sys.stderr,
        )
    return 0
