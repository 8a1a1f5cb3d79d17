"""The message catalogs as the tests (and a translator) see them.

    .venv/bin/python -m tests.support.i18n missing [PATH …]   # .po entries still to translate
    .venv/bin/python -m tests.support.i18n stale                # catalog entries no code uses

``missing`` prints a ready-to-fill .po fragment (msgid, empty msgstr, where it is used) for
every message in PATH (default: all of the product's packages) that no Spanish catalog
translates yet; paste it into the area's file under core/locale/es/ and fill the msgstr lines.
"""

from __future__ import annotations

import re
import string
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("core", "commands", "bot", "jobs", "engine", "adapters", "cli")
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2)}
LOCALE_DIR = REPO / "core" / "locale"

# Words that mark a sentence as English; none of them is a Spanish word. Command names,
# database names, ids and code spans are removed before looking (see english_words).
ENGLISH_MARKERS = frozenset(
    """the was were will would is are has have had not with from this that which when what nothing
    been into your you it its there their they them who whose why how than then only also still
    could should must can't cannot don't doesn't isn't wasn't won't after before because while
    until each every any some all none one two yes done failed stored running waiting
    approved denied requested queued finished started backup backups database databases restore
    restored restoring dump dumped table tables target approve deny cancel transaction single streamed
    staged overlapped took new kept replaced unchanged found missing wrong now later never always""".split()
)


@dataclass
class Message:
    msgid: str | tuple[str, str]
    places: list[str] = field(default_factory=list)
    context: str | None = None

    @property
    def key(self) -> str:
        return key_of(self.msgid, self.context)


def key_of(msgid: str | tuple[str, ...] | list[str], context: str | None = None) -> str:
    """How gettext files a message: the singular, behind its context (pgettext) when it has one."""
    text = msgid if isinstance(msgid, str) else msgid[0]
    return f"{context}\x04{text}" if context else text


def source_files(paths: Iterable[str] = ()) -> list[Path]:
    chosen = [REPO / p for p in paths] or [REPO / p for p in PACKAGES]
    files: list[Path] = []
    for p in chosen:
        files.extend(sorted(p.rglob("*.py")) if p.is_dir() else [p])
    return files


def extract(paths: Iterable[str] = ()) -> dict[str, Message]:
    """Every message marked with _(), N_() or ngettext() in the given files, by msgid."""
    found: dict[str, Message] = {}
    for path in source_files(paths):
        for lineno, msg, _comments, context in extract_from_file(
            "python", str(path), keywords=KEYWORDS, comment_tags=(), options={}
        ):
            msgid = msg if isinstance(msg, str) else (msg[0], msg[1])
            where = f"{path.relative_to(REPO)}:{lineno}"
            found.setdefault(key_of(msgid, context), Message(msgid, context=context)).places.append(where)
    return found


def catalogs(code: str = "es") -> dict[Path, Catalog]:
    result = {}
    for path in sorted((LOCALE_DIR / code).glob("*.po")):
        with path.open("rb") as fh:
            result[path] = read_po(fh, locale=code)
    return result


def placeholders(text: str) -> set[str]:
    """The ``{name}`` fields of a format string (``{{`` is a literal brace, not a field)."""
    try:
        return {name for _lit, name, _spec, _conv in string.Formatter().parse(text) if name is not None}
    except ValueError:
        return {"<unbalanced braces>"}


def english_words(text: str) -> list[str]:
    """English marker words left in a message meant to be Spanish (code, ids, links removed)."""
    text = re.sub(r"```.*?```|`[^`]*`", " ", text, flags=re.S)  # code spans: commands, ids, SQL
    text = re.sub(r"<[^>]*>", " ", text)  # mentions, links, channels
    text = re.sub(r"/backup\s+\S+", " ", text)  # command names are syntax, not prose
    text = re.sub(r"\b[\w.-]*\d[\w.-]*\b", " ", text)  # ids, sizes, times
    text = re.sub(r"--[\w-]+", " ", text)  # flags
    text = re.sub(r"\{[^{}]*\}", " ", text)  # format placeholders
    words = re.findall(r"[A-Za-z_'][A-Za-z_'-]*", text)  # pg_dump, pre-restore: one word each
    return [w for w in words if w.lower() in ENGLISH_MARKERS]


def _po_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def missing(paths: Iterable[str] = (), code: str = "es") -> list[Message]:
    translated: set[str] = set()
    for cat in catalogs(code).values():
        for m in cat:
            if m.id and not m.fuzzy and (m.string if isinstance(m.string, str) else all(m.string)):
                translated.add(key_of(m.id, m.context))
    return [m for key, m in extract(paths).items() if key not in translated]


def main(argv: list[str]) -> int:
    cmd, *rest = argv or ["missing"]
    if cmd == "missing":
        for m in missing(rest):
            print("#: " + " ".join(m.places))
            if m.context:
                print(f'msgctxt "{_po_escape(m.context)}"')
            if isinstance(m.msgid, tuple):
                print(f'msgid "{_po_escape(m.msgid[0])}"\nmsgid_plural "{_po_escape(m.msgid[1])}"')
                print('msgstr[0] ""\nmsgstr[1] ""\n')
            else:
                print(f'msgid "{_po_escape(m.msgid)}"\nmsgstr ""\n')
        return 0
    if cmd == "stale":
        used = extract()
        for path, cat in catalogs().items():
            for m in cat:
                key = key_of(m.id, m.context) if m.id else ""
                if key and key not in used:
                    print(f"{path.relative_to(REPO)}: {key!r}")
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
