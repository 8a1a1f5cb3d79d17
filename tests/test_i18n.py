"""The Spanish catalog is whole, and the code marks its messages the way the catalog can hold them.

What a Spanish-speaking on-call engineer would otherwise meet: an English sentence in the
middle of a Spanish thread (a message nobody translated), a crash when a translation names a
placeholder the code does not pass, or a message built with an f-string that no catalog can
ever translate.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from core import i18n
from core.config import parse_config
from core.errors import BackupbotError, ConfigError
from tests.support import i18n as cat

MARKERS = {"_", "N_", "ngettext", "pgettext"}


def _entries() -> list[tuple[Path, object]]:
    return [(path, m) for path, c in cat.catalogs("es").items() for m in c if m.id]


def _key(m: object) -> str:
    return cat.key_of(m.id, m.context)  # type: ignore[attr-defined]


def test_every_message_in_the_code_has_a_spanish_translation() -> None:
    missing = cat.missing()
    lines = [f"{m.key!r} ({', '.join(m.places[:2])})" for m in missing]
    assert not missing, (
        f"{len(missing)} messages have no Spanish translation; run "
        "`.venv/bin/python -m tests.support.i18n missing` and fill them in under core/locale/es/:\n"
        + "\n".join(lines[:40])
    )


def test_no_translation_is_left_in_english() -> None:
    left = []
    for path, m in _entries():
        strings = [m.string] if isinstance(m.string, str) else list(m.string)  # type: ignore[attr-defined]
        for s in strings:
            words = cat.english_words(s)
            if words:
                left.append(f"{path.name}: {s!r} has English words {words}")
    assert not left, "\n".join(left[:40])


def test_translations_use_exactly_the_placeholders_of_the_english() -> None:
    wrong = []
    for path, m in _entries():
        ids = [m.id] if isinstance(m.id, str) else list(m.id)  # type: ignore[attr-defined]
        strings = [m.string] if isinstance(m.string, str) else list(m.string)  # type: ignore[attr-defined]
        want = set().union(*(cat.placeholders(i) for i in ids))
        for s in strings:
            if s and cat.placeholders(s) != want:
                wrong.append(f"{path.name}: {ids[0]!r} → {s!r}")
    assert not wrong, "placeholders differ (a crash at .format or a lost value):\n" + "\n".join(wrong[:40])


def test_no_catalog_entry_is_stale_or_translated_twice_differently() -> None:
    used = cat.extract()
    seen: dict[str, tuple[str, object]] = {}
    problems = []
    for path, m in _entries():
        key = _key(m)
        if key not in used:
            problems.append(f"{path.name}: {key!r} is used nowhere in the code")
        if key in seen and seen[key][1] != m.string:  # type: ignore[attr-defined]
            problems.append(f"{key!r} is translated differently in {seen[key][0]} and {path.name}")
        seen[key] = (path.name, m.string)  # type: ignore[attr-defined]
    assert not problems, "\n".join(problems[:40])


def _modules() -> list[Path]:
    return cat.source_files()


def _binds_underscore(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == "_" and isinstance(node.ctx, ast.Store):
            lines.append(node.lineno)
        elif isinstance(node, ast.ExceptHandler) and node.name == "_":
            lines.append(node.lineno)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(
            a.arg == "_" for a in node.args.args + node.args.kwonlyargs
        ):
            lines.append(node.lineno)
    return lines


def test_messages_are_marked_so_a_catalog_can_hold_them() -> None:
    """_() takes a literal (or a constant marked with N_), never an f-string or a built string;
    a module that imports _ never rebinds it (a later _("…") would call a tuple's leftover)."""
    problems = []
    for path in _modules():
        tree = ast.parse(path.read_text(), str(path))
        imports_underscore = any(
            isinstance(n, ast.ImportFrom) and any(a.name == "_" and a.asname is None for a in n.names)
            for n in ast.walk(tree)
        )
        if imports_underscore:
            problems += [f"{path}:{line}: binds _ (use another name)" for line in _binds_underscore(tree)]
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in MARKERS
            ):
                continue
            n_text = 2 if node.func.id in ("ngettext", "pgettext") else 1
            for arg in node.args[:n_text]:
                literal = isinstance(arg, ast.Constant) and isinstance(arg.value, str)
                constant = isinstance(arg, (ast.Name, ast.Attribute)) and node.func.id == "_"
                if not (literal or constant):
                    problems.append(f"{path}:{node.lineno}: {node.func.id}() of {ast.dump(arg)[:60]}")
    assert not problems, "\n".join(problems[:40])


def test_the_check_for_english_left_in_a_translation_can_fail() -> None:
    assert cat.english_words("La copia se guardó, but the restore failed") == ["the", "restore", "failed"]
    assert (
        cat.english_words("Copia `app-20261205T000000Z-manual-1abc` de <@U1> con pg_dump, pre-restore") == []
    )


def test_spanish_is_chosen_by_the_config_and_english_is_the_default(tmp_path: Path) -> None:
    raw = {"storage": {"url": (tmp_path / "s").as_uri(), "sse": "none"}, "slack": {"locale": "es"}}
    try:
        cfg = parse_config(raw, "t.toml")
        assert cfg.slack.locale == "es" and i18n.current_locale() == "es"
        err = BackupbotError("x", detail="y", hint="z")
        assert err.render() == "ERROR: x\nDETALLE: y\nSUGERENCIA: z"
        parse_config({"storage": raw["storage"]}, "t.toml")
        assert i18n.current_locale() == "en"
        assert err.render() == "ERROR: x\nDETAIL: y\nHINT: z"
    finally:
        i18n.set_locale("en")


def test_an_unknown_locale_is_a_clear_config_error_that_changes_nothing(tmp_path: Path) -> None:
    raw = {"storage": {"url": (tmp_path / "s").as_uri(), "sse": "none"}, "slack": {"locale": "fr"}}
    with pytest.raises(ConfigError) as err:
        parse_config(raw, "t.toml")
    assert "locale" in err.value.message and "fr" in (err.value.detail or "")
    assert i18n.current_locale() == "en"
