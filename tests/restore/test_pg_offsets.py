"""Data offsets written into a piped dump make `pg_restore -j` work as on a dump written to a file."""

from __future__ import annotations

import subprocess
from pathlib import Path

import psycopg
import pytest

from adapters.pg_offsets import OffsetFinder, add_data_offsets
from tests.support import pg


def piped_dump(url: str, path: Path, *flags: str) -> None:
    """pg_dump writing into a pipe, as the backup pipeline does: no offsets in its TOC."""
    with path.open("wb") as out:
        proc = subprocess.Popen(["pg_dump", "-Fc", *flags, url], stdout=subprocess.PIPE)
        assert proc.stdout is not None
        for chunk in iter(lambda: proc.stdout.read(65536), b""):  # type: ignore[union-attr]
            out.write(chunk)
        assert proc.wait() == 0


@pytest.mark.parametrize("flags", [("-Z0",), ()], ids=["uncompressed", "gzip"])
def test_piped_dump_gets_offsets_and_restores_in_parallel(
    realistic_db: str, tmp_path: Path, flags: tuple[str, ...]
) -> None:
    with psycopg.connect(realistic_db, autocommit=True) as conn:
        conn.execute("SELECT lo_from_bytea(0, 'a large object')")
    dump = tmp_path / "app.dump"
    piped_dump(realistic_db, dump, *flags)
    listing = subprocess.run(
        ["pg_restore", "-l", str(dump)], capture_output=True, text=True, check=True
    ).stdout
    data_entries = [line for line in listing.splitlines() if " TABLE DATA " in line or " BLOBS " in line]

    assert add_data_offsets(dump) == len(data_entries) == 4
    assert add_data_offsets(dump) == 4  # a second pass finds them set and changes nothing

    with pg.temp_database("bboff") as target:
        subprocess.run(
            ["pg_restore", "--no-owner", "--exit-on-error", "-j", "2", f"--dbname={target}", str(dump)],
            check=True,
            capture_output=True,
        )
        assert pg.table_checksums(target) == pg.table_checksums(realistic_db)
        with psycopg.connect(target) as conn:
            assert conn.execute("SELECT count(*) FROM pg_largeobject_metadata").fetchone()[0] == 1  # type: ignore[index]


def test_anything_else_is_left_alone(tmp_path: Path) -> None:
    junk = tmp_path / "junk.dump"
    junk.write_bytes(b"PGDMP" + bytes(range(200)))
    assert add_data_offsets(junk) == 0
    assert junk.read_bytes() == b"PGDMP" + bytes(range(200))


@pytest.mark.parametrize("piece", [1, 7, 4096, 1 << 20], ids=["1B", "7B", "4KB", "1MB"])
def test_offsets_found_while_streaming_equal_the_file_pass(
    realistic_db: str, tmp_path: Path, piece: int
) -> None:
    """Pieces of any size, markers straddling two of them included, give the same TOC as the file pass."""
    with psycopg.connect(realistic_db, autocommit=True) as conn:
        conn.execute("SELECT lo_from_bytea(0, 'a large object')")
    reference = tmp_path / "reference.dump"
    piped_dump(realistic_db, reference, "-Z0")
    plain = reference.read_bytes()
    assert add_data_offsets(reference) == 4

    streamed = tmp_path / "streamed.dump"
    finder = OffsetFinder()
    with streamed.open("w+b") as fh:
        for at in range(0, len(plain), piece):
            finder.feed(plain[at : at + piece])
            fh.write(plain[at : at + piece])
        assert finder.finish(fh) == 4
    assert streamed.read_bytes() == reference.read_bytes()


def test_streaming_finder_leaves_anything_else_alone(tmp_path: Path) -> None:
    junk = b"PGDMP" + bytes(range(200))
    finder = OffsetFinder()
    finder.feed(junk)
    path = tmp_path / "junk.dump"
    with path.open("w+b") as fh:
        fh.write(junk)
        assert finder.finish(fh) == 0
    assert path.read_bytes() == junk
