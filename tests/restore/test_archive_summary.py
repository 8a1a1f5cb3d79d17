"""The "Backup holds" line of a restore request reads as English for one table as for many."""

from __future__ import annotations

from adapters.pg_inspect import ArchiveSummary


def summary(**counts: int) -> ArchiveSummary:
    return ArchiveSummary(
        counts=counts, schemas=("public",), dumped_from="15.20", dumped_by="15.19", entries=9
    )


def test_one_of_each_is_singular() -> None:
    text = summary(TABLE=1, INDEX=1, VIEW=1, SEQUENCE=1).describe()
    assert text == "1 table, 1 index or constraint, 1 view, 1 sequence in public"


def test_many_are_plural_and_absent_kinds_are_left_out() -> None:
    text = summary(TABLE=4, INDEX=2, CONSTRAINT=3, SEQUENCE=2).describe()
    assert text == "4 tables, 5 indexes and constraints, 2 sequences in public"
