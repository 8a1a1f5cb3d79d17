"""How the CLI prints: JSON for scripts, short text for people, errors as message/detail/hint."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from core.errors import BackupbotError
from core.i18n import DEFAULT_LOCALE, N_, _, current_locale, set_locale
from core.units import human_bytes

T = TypeVar("T")


def emit_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, sort_keys=True, default=str)
    sys.stdout.write("\n")


def in_english(build: Callable[[], T]) -> T:
    """``build()`` with the messages in English: a value that goes into ``--json`` output, which
    scripts compare, is the same whatever ``[slack] locale`` says (the CLI is one thread)."""
    code = current_locale()
    if code == DEFAULT_LOCALE:
        return build()
    set_locale(DEFAULT_LOCALE)
    try:
        return build()
    finally:
        set_locale(code)


def emit_error(err: BackupbotError, as_json: bool) -> None:
    if as_json:
        json.dump(err.as_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    print(err.render(), file=sys.stderr)


# A step's status is a key (stored in reports, compared); people read a whole line per status,
# so a language can agree the word with the step's name.
_STEP_LINES = {
    "ok": N_("{title}: ok{took} {detail}"),
    "failed": N_("{title}: failed{took} {detail}"),
    "skipped": N_("{title}: skipped{took} {detail}"),
    "not run": N_("{title}: not run{took} {detail}"),
}


def step_line(number: int, total: int, title: str, status: str, seconds: float | None, detail: str) -> str:
    """``[2/4] Restore into a scratch database: ok (3.1 s) …`` for a finished step, on a terminal."""
    took = f" ({seconds:.1f} s)" if seconds is not None else ""
    template = _STEP_LINES.get(status)
    if template is None:  # a status this list does not know yet: shown as it is
        text = f"{title}: {status}{took} {detail}"
    else:
        text = _(template).format(title=title, took=took, detail=detail)
    return f"[{number}/{total}] {text}".rstrip()


def print_fields(rows: list[tuple[str, str]], indent: str = "", gap: int = 2) -> None:
    """Labels and values in two columns, as wide as the longest label in the current language."""
    width = max((len(label) for label, _value in rows), default=0)
    for label, value in rows:
        print(f"{indent}{label.ljust(width)}{' ' * gap}{value}")


def human_size(n: float | None) -> str:
    """A size for a table cell; "-" where it is not known."""
    return "-" if n is None else human_bytes(n)
