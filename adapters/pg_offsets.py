"""Give a staged custom-format dump the data offsets that ``pg_dump`` could not write into a pipe.

Why: when ``pg_dump -Fc`` writes to a pipe (as every streamed backup does) it cannot seek
back to record where each table's data starts, so the table of contents says "position
not set". ``pg_restore -j N`` then makes every worker read through the file to find its
table — with ``-Z0`` dumps that is one seek per row — and parallel restore ends up
slower than serial. Once the dump sits in a local file, the positions can be found and
written into the table of contents in place, exactly as ``pg_dump`` does when it writes
to a file, and ``-j N`` gets its speed back.

How: the header and table of contents are parsed (archive versions 1.12–1.16); the data
blocks follow in table-of-contents order, each after the previous block's end marker
(a zero length), so each one is found with a C-speed ``mmap.find`` of "end marker, block
type, dump id" and confirmed by reading its header. Anything unexpected leaves the file
untouched and returns 0; the caller then restores without ``-j``.
"""

from __future__ import annotations

import mmap
from dataclasses import dataclass
from pathlib import Path

BLK_DATA = 1
BLK_BLOBS = 3
K_OFFSET_POS_NOT_SET = 1
K_OFFSET_POS_SET = 2


class _Malformed(Exception):
    """The file is not what the parser expects; offsets are left alone."""


@dataclass
class _Entry:
    dump_id: int
    had_dumper: bool
    desc: str
    offset_field: int  # file position of the entry's offset flag byte


class _Reader:
    def __init__(self, buf: mmap.mmap) -> None:
        self.buf = buf
        self.pos = 0
        self.int_size = 4
        self.off_size = 8

    def byte(self) -> int:
        if self.pos >= len(self.buf):
            raise _Malformed("unexpected end of file")
        value = self.buf[self.pos]
        self.pos += 1
        return value

    def int_(self) -> int:
        sign = self.byte()
        end = self.pos + self.int_size
        if end > len(self.buf):
            raise _Malformed("unexpected end of file")
        value = int.from_bytes(self.buf[self.pos : end], "little")
        self.pos = end
        return -value if sign else value

    def str_(self) -> str | None:
        length = self.int_()
        if length < 0:
            return None
        if length > 100_000_000 or self.pos + length > len(self.buf):
            raise _Malformed("string length out of range")
        text = bytes(self.buf[self.pos : self.pos + length]).decode("utf-8", "replace")
        self.pos += length
        return text


def _version(r: _Reader) -> tuple[int, int, int]:
    if bytes(r.buf[0:5]) != b"PGDMP":
        raise _Malformed("no PGDMP magic")
    r.pos = 5
    version = (r.byte(), r.byte(), r.byte())
    if not ((1, 12, 0) <= version <= (1, 16, 255)):
        raise _Malformed(f"archive version {version} not handled")
    r.int_size = r.byte()
    r.off_size = r.byte()
    if r.byte() != 1:  # archCustom
        raise _Malformed("not a custom-format archive")
    return version


def _read_toc(r: _Reader) -> list[_Entry]:
    version = _version(r)
    if version >= (1, 15, 0):
        r.byte()  # compression algorithm
    else:
        r.int_()  # compression level
    for _ in range(7):  # creation time: sec, min, hour, mday, mon, year, isdst
        r.int_()
    r.str_()  # database name
    r.str_()  # server version
    r.str_()  # pg_dump version
    count = r.int_()
    if not 0 <= count <= 10_000_000:
        raise _Malformed("TOC count out of range")
    entries: list[_Entry] = []
    for _ in range(count):
        dump_id = r.int_()
        had_dumper = bool(r.int_())
        r.str_()  # table oid
        r.str_()  # oid
        r.str_()  # tag
        desc = r.str_() or ""
        r.int_()  # section
        for _field in ("defn", "dropStmt", "copyStmt", "namespace", "tablespace", "tableam"):
            r.str_()
        if version >= (1, 16, 0):
            r.int_()  # relkind
        r.str_()  # owner
        r.str_()  # "false": WITH OIDS
        while r.str_() is not None:  # dependencies, NULL-terminated
            pass
        offset_field = r.pos
        flag = r.byte()
        r.pos += r.off_size
        if flag not in (1, 2, 3):
            raise _Malformed(f"bad offset flag {flag} for dump id {dump_id}")
        entries.append(_Entry(dump_id, had_dumper, desc, offset_field))
    return entries


def _block_header(r: _Reader, at: int) -> tuple[int, int]:
    r.pos = at
    return r.byte(), r.int_()


def add_data_offsets(path: Path) -> int:
    """Make sure ``path``'s table of contents knows where each table's data starts.

    Returns how many data blocks are located now; 0 when the file was left alone (then
    ``pg_restore -j`` would be slower than a serial restore).
    """
    with path.open("r+b") as fh, mmap.mmap(fh.fileno(), 0) as buf:
        r = _Reader(buf)
        try:
            entries = _read_toc(r)
            data = [e for e in entries if e.had_dumper]
            if not data:
                return 0
            flags = {buf[e.offset_field] for e in data}
            if flags == {K_OFFSET_POS_SET}:
                return len(data)  # written to a file by pg_dump: it has them already
            if flags != {K_OFFSET_POS_NOT_SET}:
                return 0
            found: list[tuple[_Entry, int]] = []
            at = r.pos  # the first block starts right after the table of contents
            for i, entry in enumerate(data):
                kind = BLK_BLOBS if entry.desc in ("BLOBS", "LARGE OBJECTS") else BLK_DATA
                if i > 0:
                    marker = (
                        b"\x00" * (1 + r.int_size)
                        + bytes([kind, 0])
                        + entry.dump_id.to_bytes(r.int_size, "little")
                    )
                    hit = buf.find(marker, at)
                    if hit < 0:
                        raise _Malformed(f"no data block for dump id {entry.dump_id}")
                    at = hit + 1 + r.int_size
                if _block_header(r, at) != (kind, entry.dump_id):
                    raise _Malformed(f"block at {at} is not dump id {entry.dump_id}")
                found.append((entry, at))
                at += 1
        except _Malformed:
            return 0
        for entry, position in found:
            buf[entry.offset_field] = K_OFFSET_POS_SET
            start = entry.offset_field + 1
            buf[start : start + r.off_size] = position.to_bytes(r.off_size, "little")
        buf.flush()
    return len(found)
