"""Messages in the team's language: English source strings, gettext catalogs for the rest.

The locale is a setting of the config (`[slack] locale`), and a process runs with one config
(the bot, a worker, one CLI command), so the locale is process-wide: `core.config.load_config`
sets it, and every message is translated where it is built, with ``_("…")``. Log lines are
not translated: they are read by machines and by whoever greps them, in one language.

Catalogs are the ``.po`` files under ``core/locale/<code>/`` — one file per area of the code,
so two people translating different areas never edit the same file. They are compiled in
memory when the locale is first used (a few milliseconds), so a catalog can never be stale.
English is the source language: its "catalog" is the strings themselves.

Conventions, checked by tests/test_i18n.py:
  * ``_("Backup {id} of {db} is stored.").format(id=…, db=…)`` — never an f-string inside
    ``_()`` (the catalog could not hold it), placeholders by name so a translation may move them;
  * ``ngettext("{n} table", "{n} tables", n).format(n=n)`` for counted things;
  * ``N_("…")`` marks a string kept in a constant; translate it where it is used, ``_(CONST)``;
  * ``pgettext("step", "failed")`` where one English word needs two Spanish ones (gender);
  * a module that imports ``_`` never binds ``_`` itself (``for _ in``, ``a, _ = …``).
"""

from __future__ import annotations

import functools
import gettext
import io
import threading
from pathlib import Path

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DEFAULT_LOCALE = "en"
SUPPORTED_LOCALES = ("en", "es")

_lock = threading.Lock()
_current = DEFAULT_LOCALE
_active: gettext.NullTranslations = gettext.NullTranslations()


def set_locale(code: str) -> None:
    """Make ``code`` the language of every message this process builds from now on."""
    global _current, _active
    if code not in SUPPORTED_LOCALES:
        raise ValueError(f"unsupported locale {code!r}; supported: {', '.join(SUPPORTED_LOCALES)}")
    translations = _catalog(code)
    with _lock:
        _current, _active = code, translations


def current_locale() -> str:
    return _current


def _(message: str) -> str:
    """The message in the current language (the English source where no translation exists)."""
    return _active.gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return _active.ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    """A word whose Spanish depends on what it is about ("none", "failed": gender agrees)."""
    return _active.pgettext(context, message)


def N_(message: str) -> str:
    """Marks a string for the catalog without translating it yet (constants built at import)."""
    return message


@functools.cache
def _catalog(code: str) -> gettext.NullTranslations:
    """Every ``.po`` file of ``code``, compiled and chained (one area's file after another)."""
    if code == DEFAULT_LOCALE:
        return gettext.NullTranslations()
    # Babel is imported only here: English-only processes never pay for it.
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    chain: gettext.NullTranslations | None = None
    for path in sorted((LOCALE_DIR / code).glob("*.po")):
        with path.open("rb") as fh:
            catalog = read_po(fh, locale=code)
        compiled = io.BytesIO()
        write_mo(compiled, catalog)  # fuzzy entries are left out: they are not translations yet
        compiled.seek(0)
        part = gettext.GNUTranslations(compiled)
        if chain is None:
            chain = part
        else:
            chain.add_fallback(part)
    return chain or gettext.NullTranslations()
