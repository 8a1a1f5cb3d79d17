"""The table of contents of a custom-format dump, with each entry's dependencies.

``pg_restore --list`` prints what an archive holds but not what depends on what; a
one-table restore needs exactly that (the table's indexes, constraints and defaults
depend on the table, its defaults on their sequence). The header and entries are read
with the same reader ``pg_offsets`` uses to find data offsets.
"""

from __future__ import annotations

import mmap
from dataclasses import dataclass
from pathlib import Path

from adapters.pg_offsets import _Malformed, _Reader, _version
from core.errors import IntegrityError
from core.i18n import _


@dataclass(frozen=True)
class TocEntry:
    dump_id: int
    desc: str
    schema: str
    tag: str
    deps: tuple[int, ...]


def read_toc(path: Path) -> list[TocEntry]:
    """Every entry of the staged dump's table of contents, in file order."""
    with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        r = _Reader(buf)
        try:
            return _entries(r)
        except _Malformed as exc:
            raise IntegrityError(
                _("the backup's table of contents cannot be read"),
                detail=str(exc),
                hint=_("The archive is damaged or was written by a pg_dump newer than this reader knows."),
            ) from None


def _entries(r: _Reader) -> list[TocEntry]:
    version = _version(r)
    if version >= (1, 15, 0):
        r.byte()
    else:
        r.int_()
    for _i in range(7):
        r.int_()
    for _i in range(3):  # database name, server version, pg_dump version
        r.str_()
    count = r.int_()
    out: list[TocEntry] = []
    for _i in range(count):
        dump_id = r.int_()
        r.int_()  # had dumper
        r.str_()  # table oid
        r.str_()  # oid
        tag = r.str_() or ""
        desc = r.str_() or ""
        r.int_()  # section
        r.str_()  # defn
        r.str_()  # drop statement
        r.str_()  # copy statement
        namespace = r.str_() or ""
        r.str_()  # tablespace
        r.str_()  # table access method
        if version >= (1, 16, 0):
            r.int_()  # relkind
        r.str_()  # owner
        r.str_()  # "false": WITH OIDS
        deps = []
        while (dep := r.str_()) is not None:
            if dep.isdigit():
                deps.append(int(dep))
        r.byte()  # offset flag
        r.pos += r.off_size
        out.append(TocEntry(dump_id, desc, namespace, tag, tuple(deps)))
    return out
