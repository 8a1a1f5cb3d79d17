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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

BLK_DATA = 1
BLK_BLOBS = 3
K_OFFSET_POS_NOT_SET = 1
K_OFFSET_POS_SET = 2


class _Malformed(Exception):
    """The file is not what the parser expects; offsets are left alone."""


class _Truncated(_Malformed):
    """The bytes end before the structure does: a stream may simply not have sent the rest yet."""


@dataclass
class _Entry:
    dump_id: int
    had_dumper: bool
    desc: str
    offset_field: int  # file position of the entry's offset flag byte


class _Reader:
    def __init__(self, buf: mmap.mmap | bytes | bytearray) -> None:
        self.buf = buf
        self.pos = 0
        self.int_size = 4
        self.off_size = 8

    def byte(self) -> int:
        if self.pos >= len(self.buf):
            raise _Truncated("unexpected end of file")
        value = self.buf[self.pos]
        self.pos += 1
        return value

    def int_(self) -> int:
        sign = self.byte()
        end = self.pos + self.int_size
        if end > len(self.buf):
            raise _Truncated("unexpected end of file")
        value = int.from_bytes(self.buf[self.pos : end], "little")
        self.pos = end
        return -value if sign else value

    def str_(self) -> str | None:
        length = self.int_()
        if length < 0:
            return None
        if length > 100_000_000:
            raise _Malformed("string length out of range")
        if self.pos + length > len(self.buf):
            raise _Truncated("unexpected end of file")
        text = bytes(self.buf[self.pos : self.pos + length]).decode("utf-8", "replace")
        self.pos += length
        return text


def _version(r: _Reader) -> tuple[int, int, int]:
    if len(r.buf) < 11:
        raise _Truncated("shorter than the archive header")
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


def _kind(entry: _Entry) -> int:
    return BLK_BLOBS if entry.desc in ("BLOBS", "LARGE OBJECTS") else BLK_DATA


def _block_start(entry: _Entry, int_size: int) -> bytes:
    """How a data block begins: its type and its dump id."""
    return bytes([_kind(entry), 0]) + entry.dump_id.to_bytes(int_size, "little")


def _marker(entry: _Entry, int_size: int) -> bytes:
    """The previous block's end (a zero length) followed by this block's start."""
    return b"\x00" * (1 + int_size) + _block_start(entry, int_size)


def _data_entries(buf: mmap.mmap | bytes | bytearray, entries: list[_Entry]) -> list[_Entry] | None:
    """The entries whose positions are to be found: [] when all are set already, None to give up."""
    data = [e for e in entries if e.had_dumper]
    flags = {buf[e.offset_field] for e in data}
    if not data or flags == {K_OFFSET_POS_SET}:
        return []
    return data if flags == {K_OFFSET_POS_NOT_SET} else None


def _write_positions(
    write_at: Callable[[int, bytes], object], found: list[tuple[_Entry, int]], off_size: int
) -> None:
    for entry, position in found:
        write_at(entry.offset_field, bytes([K_OFFSET_POS_SET]) + position.to_bytes(off_size, "little"))


def add_data_offsets(path: Path) -> int:
    """Make sure ``path``'s table of contents knows where each table's data starts.

    Returns how many data blocks are located now; 0 when the file was left alone (then
    ``pg_restore -j`` would be slower than a serial restore).
    """
    with path.open("r+b") as fh, mmap.mmap(fh.fileno(), 0) as buf:
        r = _Reader(buf)
        try:
            entries = _read_toc(r)
            data = _data_entries(buf, entries)
            if data is None:
                return 0
            if not data:
                return sum(e.had_dumper for e in entries)
            found: list[tuple[_Entry, int]] = []
            at = r.pos  # the first block starts right after the table of contents
            for i, entry in enumerate(data):
                if i > 0:
                    hit = buf.find(_marker(entry, r.int_size), at)
                    if hit < 0:
                        raise _Malformed(f"no data block for dump id {entry.dump_id}")
                    at = hit + 1 + r.int_size
                elif buf[at : at + 2 + r.int_size] != _block_start(entry, r.int_size):
                    raise _Malformed(f"block at {at} is not dump id {entry.dump_id}")
                found.append((entry, at))
                at += 1
        except _Malformed:
            return 0

        def write_at(pos: int, value: bytes) -> None:
            buf[pos : pos + len(value)] = value

        _write_positions(write_at, found, r.off_size)
        buf.flush()
    return len(found)


class OffsetFinder:
    """The same positions, found while the dump streams past on its way to the staging file.

    Why: the separate pass above reads the whole staged file back (about 0.7 s per GB);
    here each piece is searched as it is written, with C-speed ``bytes.find``, and only the
    few bytes of a marker that straddle two pieces are copied. ``feed`` every piece in
    order, then ``finish`` with the file opened for writing; a dump the parser does not
    expect is left alone (``finish`` returns 0, exactly like ``add_data_offsets``).
    """

    HEAD_LIMIT = 256 * 1024 * 1024  # a table of contents bigger than this is left to add_data_offsets

    def __init__(self) -> None:
        self._head: bytearray | None = bytearray()  # bytes kept until the TOC parses
        self._pos = 0  # absolute position of the next byte fed
        self._tail = b""  # the last marker-length-minus-one bytes fed
        self._data: list[_Entry] = []
        self._found: list[tuple[_Entry, int]] = []
        self._at = 0  # search from here (absolute)
        self._int_size = 4
        self._off_size = 8
        self._already_set = 0
        self.failed = False

    def feed(self, piece: bytes) -> None:
        if self.failed or not piece:
            return
        if self._head is not None:
            self._head += piece
            self._pos += len(piece)
            self._parse_head()
            return
        self._scan(piece)

    def _parse_head(self) -> None:
        assert self._head is not None
        r = _Reader(self._head)
        try:
            entries = _read_toc(r)
            data = _data_entries(self._head, entries)
        except _Truncated:
            if len(self._head) > self.HEAD_LIMIT:
                self._give_up()
            return
        except _Malformed:
            self._give_up()
            return
        if data is None:
            self._give_up()
            return
        self._int_size, self._off_size = r.int_size, r.off_size
        if not data:
            self._already_set = sum(e.had_dumper for e in entries)
            self._head = None
            self.failed = True  # nothing to do: finish reports the count pg_dump wrote
            return
        start = _block_start(data[0], self._int_size)
        if len(self._head) < r.pos + len(start):
            return  # wait for the first block's header
        if bytes(self._head[r.pos : r.pos + len(start)]) != start:
            self._give_up()
            return
        self._data = data
        self._found.append((data[0], r.pos))
        self._at = r.pos + 1
        rest = bytes(self._head)
        self._head = None
        self._pos, self._tail = 0, b""
        self._scan(rest)

    def _scan(self, piece: bytes) -> None:
        base = self._pos
        width = 2 * self._int_size + 3  # len(_marker(...))
        while len(self._found) < len(self._data):
            marker = _marker(self._data[len(self._found)], self._int_size)
            hit = -1
            if self._tail:  # a marker that starts in the previous piece and ends in this one
                junction = self._tail + piece[: width - 1]
                jbase = base - len(self._tail)
                j = junction.find(marker, max(0, self._at - jbase))
                if 0 <= j < len(self._tail):
                    hit = jbase + j
            if hit < 0:
                j = piece.find(marker, max(0, self._at - base))
                if j >= 0:
                    hit = base + j
            if hit < 0:
                break
            block = hit + 1 + self._int_size
            self._found.append((self._data[len(self._found)], block))
            self._at = block + 1
        self._pos = base + len(piece)
        self._tail = (self._tail + piece[-(width - 1) :])[-(width - 1) :]

    def _give_up(self) -> None:
        self.failed, self._head, self._data = True, None, []

    def finish(self, fh: BinaryIO) -> int:
        """Write the positions into the table of contents of the staged file ``fh``; how many."""
        if self._already_set:
            return self._already_set
        if self.failed or self._head is not None or len(self._found) != len(self._data):
            return 0

        def write_at(pos: int, value: bytes) -> None:
            fh.seek(pos)
            fh.write(value)

        _write_positions(write_at, self._found, self._off_size)
        fh.flush()
        return len(self._found)
