"""``backupbot dump``: what deploy pipelines run before a migration; exit 0 only once the backup exists."""

from __future__ import annotations

import argparse
import sys
import threading

from cli.output import emit_json, human_size, print_fields
from core.config import BACKUP_KINDS, load_config
from core.i18n import _
from core.identity import cli_identity
from engine.dump import Progress, run_dump


def add_json_flag(p: argparse.ArgumentParser) -> None:
    """``--json`` also after the subcommand; SUPPRESS keeps it from overriding the global flag."""
    p.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help=_("machine-readable output")
    )


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("dump", help=_("take an encrypted backup of a database now"))
    p.add_argument("--database", "-d", help=_("configured database name (default: the only one configured)"))
    p.add_argument("--kind", default="manual", choices=[k for k in BACKUP_KINDS if k != "pre-restore"])
    p.add_argument("--reason", default="", help=_("why (shown in list and in the manifest)"))
    p.add_argument(
        "--git-sha", help=_("commit being deployed (default for pre-* kinds: $GIT_SHA or $SOURCE_VERSION)")
    )
    p.add_argument("--requested-by", default=cli_identity(), help=argparse.SUPPRESS)
    add_json_flag(p)
    p.set_defaults(func=run)


class ProgressLine:
    """One self-overwriting line on stderr, only for a person watching a terminal."""

    def __init__(self) -> None:
        self.enabled = sys.stderr.isatty()
        self.shown = False

    def __call__(self, p: Progress) -> None:
        if not self.enabled:
            return
        line = _("read {read}, stored {stored}, {rate}/s, {seconds} s").format(
            read=human_size(p.bytes_in),
            stored=human_size(p.bytes_out),
            rate=human_size(p.rate),
            seconds=f"{p.elapsed:.0f}",
        )
        sys.stderr.write(f"\r  {line}   ")
        sys.stderr.flush()
        self.shown = True

    def done(self) -> None:
        if self.shown:
            sys.stderr.write("\n")
            sys.stderr.flush()


def pick_database(cfg_databases: dict[str, object], given: str | None) -> str:
    from core.errors import UsageError

    if given:
        return given
    if len(cfg_databases) == 1:
        return next(iter(cfg_databases))
    raise UsageError(
        _("which database?"),
        detail=_("Configured: {names}.").format(names=", ".join(sorted(cfg_databases)))
        if cfg_databases
        else _("Configured: none."),
        hint=_("Pass --database NAME."),
    )


def run(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    database = pick_database(dict(cfg.databases), args.database)
    progress = ProgressLine()
    try:
        manifest = run_dump(
            cfg,
            database,
            kind=args.kind,
            reason=args.reason,
            requested_by=args.requested_by,
            git_sha=args.git_sha,
            on_progress=progress,
            cancel=threading.Event(),
        )
    finally:
        progress.done()
    if args.json:
        emit_json(manifest.to_dict())
        return 0
    secs = max(manifest.duration_seconds, 1e-3)
    # The id stays the second word of the first line in every language (`awk 'NR==1 {print $2}'`);
    # a script that needs more reads --json.
    print(_("backup {id} stored").format(id=manifest.id))
    print_fields(
        [
            (_("key:"), manifest.key),
            (_("dump size:"), _("{size} (plain pg_dump -Fc)").format(size=human_size(manifest.dump_bytes))),
            (_("stored:"), _("{size} (zstd + AES-256-GCM)").format(size=human_size(manifest.stored_bytes))),
            (
                _("duration:"),
                f"{manifest.duration_seconds:.1f} s ({human_size(manifest.dump_bytes / secs)}/s)",
            ),
            ("sha256:", manifest.sha256),
        ],
        indent="  ",
    )
    return 0
