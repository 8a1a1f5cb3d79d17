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
from engine.files_restore import list_files, parse_at, restore_file


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("files", help="back up, check, list and restore the application's files")
    verbs = p.add_subparsers(dest="files_command", metavar="ACTION")
    verbs.required = True

    s = verbs.add_parser("sync", help="copy new and changed files of the app's bucket into the backup")
    add_json_flag(s)
    s.set_defaults(func=run_sync)

    v = verbs.add_parser("verify", help="decrypt every backed-up file and check its XML or certificate")
    v.add_argument("--at", help="check the backup as it was at DATE (default: the newest)")
    add_json_flag(v)
    v.set_defaults(func=run_verify)

    ls = verbs.add_parser("list", help="the files in the backup, as they were at a date")
    ls.add_argument("--at", help="DATE (2026-12-01: end of that day, UTC) or time (2026-12-01T14:00Z)")
    add_json_flag(ls)
    ls.set_defaults(func=run_list)

    r = verbs.add_parser("restore", help="get one file back as it was at a date")
    r.add_argument("path", help="the file's key in the app's bucket, e.g. certs/signing.p12")
    r.add_argument("--at", help="DATE (2026-12-01: end of that day, UTC) or time (2026-12-01T14:00Z)")
    r.add_argument(
        "-o",
        "--output",
        required=True,
        help="file to write (- for stdout); never overwritten without --force",
    )
    r.add_argument("--force", action="store_true", help="replace --output if it exists")
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
        f"copied {len(result.copied)} file(s) ({human_size(result.copied_bytes)}), {result.unchanged} unchanged"
    )
    for path in result.copied:
        print(f"  + {path}")
    for path in result.gone:
        print(f"  - {path} (gone from the source; its copies stay)")
    if run:
        print(
            f"record: {run.id} ({len(run.files)} file(s))" + ("" if result.wrote_manifest else ", unchanged")
        )
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from engine.files_verify import verify_files

    report = verify_files(load_config(args.config), parse_at(args.at))
    if args.json:
        emit_json(report.to_dict())
        return 1 if report.bad else 0
    ok = report.ok
    print(
        f"{report.checked} file(s) checked in {report.run_id}: {ok['xml']} XML and {ok['certificate']} "
        f"certificate file(s) good, {ok['other']} other file(s) match their sha256, {len(report.bad)} bad"
    )
    for f in report.bad:
        print(f"  BAD       {f.path}: {f.problem}")
    for c in report.expired:
        print(f"  EXPIRED   {c.path}: {c.subject}, {c.not_after:%Y-%m-%d}")
    for c in report.expiring:
        print(
            f"  EXPIRING  {c.path}: {c.subject}, {c.not_after:%Y-%m-%d} (within {report.warning_days} days)"
        )
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
    print(f"{run.id} ({run.created_at:%Y-%m-%d %H:%M} UTC): {len(run.files)} file(s)")
    for f in run.files:
        print(f"  {f.path}  {human_size(f.size)}  sha256 {f.sha256[:16]}  copied in {f.copied_in}")
    return 0


def run_restore(args: argparse.Namespace) -> int:
    done = restore_file(load_config(args.config), args.path, args.output, parse_at(args.at), force=args.force)
    if args.json and args.output != "-":
        emit_json(vars(done))
    elif args.output != "-":
        print(
            f"restored {done.path} as it was in {done.run_id} (copied in {done.copied_in}) to {done.output}"
        )
        print(f"  {human_size(done.size)}, sha256 {done.sha256} (verified)")
    else:
        print(f"restored {done.path} from {done.run_id}, sha256 {done.sha256} (verified)", file=sys.stderr)
    return 0
