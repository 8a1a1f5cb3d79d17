"""``backupbot decrypt ID [-o FILE]``: the plain ``pg_dump -Fc`` file, for pg_restore without the bot.

Why a temp file and a rename for ``-o``: a dump that failed verification at its last chunk
must not be left where someone would restore it; FILE appears only once everything checked out.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from cli.dump import add_json_flag
from cli.output import emit_json
from core.config import Config, load_config
from core.errors import StorageError, UsageError
from core.i18n import _
from engine.catalog import get_backup
from engine.decrypt import iter_plain
from engine.manifest import Manifest


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("decrypt", help=_("write the verified plain custom-format dump to FILE or stdout"))
    p.add_argument("backup_id", metavar="ID", help=_("backup id, unique prefix, or latest:<database>"))
    p.add_argument("-o", "--output", help=_("file to write (default: stdout)"))
    p.add_argument(
        "--roles",
        action="store_true",
        help=_("the roles and memberships stored beside it (globals = true), as SQL"),
    )
    add_json_flag(p)
    p.set_defaults(func=run)


def _reader_left(backup: str, written: int) -> int:
    """The reader closed the pipe (``pg_restore --list`` needs only the table of contents).

    Said in one line instead of dying silently, because 141 alone looks like a crash; the rest of
    the backup was not read, so it was not verified either.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())  # Python's flush at exit must not hit the pipe again
    print(
        _(
            "backupbot decrypt: the reader closed the pipe after {n} bytes of backup {id}; stopped there "
            "(exit 141). Expected with `pg_restore --list`; the part not read was not verified."
        ).format(n=written, id=backup),
        file=sys.stderr,
    )
    return 141


def run(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    manifest = get_backup(cfg, args.backup_id)
    if args.roles:
        return _roles(cfg, manifest, args.output)
    if not args.output:
        if sys.stdout.isatty():
            raise UsageError(
                _("refusing to write a binary dump to the terminal"),
                hint=_("Use -o FILE, or pipe it: `backupbot decrypt ID | pg_restore --list`"),
            )
        out = sys.stdout.buffer
        written = 0
        try:
            for block in iter_plain(cfg, manifest):
                out.write(block)
                written += len(block)
            out.flush()
        except BrokenPipeError:
            return _reader_left(manifest.id, written)
        return 0
    final = Path(args.output)
    tmp = final.with_name(f".{final.name}.partial-{os.getpid()}")
    size = 0
    try:
        with open(tmp, "wb") as fh:
            for block in iter_plain(cfg, manifest):
                fh.write(block)
                size += len(block)
        os.replace(tmp, final)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise StorageError(
            _("cannot write {path}").format(path=final),
            detail=exc.strerror,
            hint=_("Check the path and free space."),
        ) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if args.json:
        emit_json(
            {"id": manifest.id, "output": str(final), "bytes": size, "sha256_verified": manifest.sha256}
        )
    else:
        print(
            _("{path}: {n} bytes, backup {id} verified (every chunk and sha256)").format(
                path=final, n=size, id=manifest.id
            ),
            file=sys.stderr,
        )
    return 0


def _roles(cfg: Config, manifest: Manifest, output: str | None) -> int:
    """Run the SQL with psql on a new server before restoring the dump: owners and grants then resolve."""
    from adapters.storage import open_storage
    from engine import globals_dump

    if not manifest.globals_key:
        raise UsageError(
            _("backup {id} has no roles stored beside it").format(id=manifest.id),
            detail=manifest.globals_note or _("It was taken without `globals = true`."),
            hint=_("Set `globals = true` for the database; later backups will have them."),
        )
    sql = globals_dump.load(cfg, manifest, open_storage(cfg.storage))
    if output:
        Path(output).write_bytes(sql)
    else:
        sys.stdout.buffer.write(sql)
        sys.stdout.flush()
    return 0
