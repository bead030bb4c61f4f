"""Languages: which one a reader gets, the gettext catalogues, and dates and numbers the
local way (Babel).

This sits in the lowest layer (``forms`` imports nothing of ours) because every layer
has words for people: the questionnaire's validation, the domain's messages, the pages,
the workbooks, the report and the command line.

The reader's language lives in a context variable set at the edge: a page or API request
(account setting, else ``Accept-Language``, else ``COHORT_DEFAULT_LANGUAGE``), a command
(``--lang``, else ``LANG``), a background job (the language of whoever asked for it). Code
in between calls :func:`gettext` (``_``) and gets the words of the current reader.

Catalogues are ``.po`` files in ``forms/i18n/locales/<lang>/LC_MESSAGES/<domain>.po``, one
domain per part of the system (``messages``, ``pages``, ``forms``, ``excel``, ``report``,
``cli``) so that people translating one part do not edit the same file. They are compiled to
``.mo`` when the package is built or installed (``setup.py``); a checkout that has not been
built compiles them in memory on first use, so editing a ``.po`` shows at the next start.
English is the source language: its msgids are the English text, so English needs no
catalogue. Codes, rule ids, API field names and export column names are never translated.
"""

from __future__ import annotations

import contextlib
import functools
import gettext as _gettext
import io
import os
import threading
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import date, datetime
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel import dates as _dates
from babel import numbers as _numbers
from babel.support import Translations

from forms.i18n.mo import mo_bytes

__all__ = [
    "DEFAULT", "DOMAINS", "LANGUAGES", "LOCALES", "N_", "current_language", "default_language",
    "format_date",
    "format_datetime", "format_decimal", "format_percent", "gettext", "language_name",
    "negotiate", "ngettext", "normalise", "pgettext", "set_language", "translations",
    "use_language", "_",
]

#: The directory holding ``<lang>/LC_MESSAGES/<domain>.po``.
LOCALES = Path(__file__).parent / "locales"
#: One catalogue per part of the system (see the module's docstring).
DOMAINS = ("messages", "pages", "forms", "excel", "report", "cli")
#: Languages the system speaks, the source language first.
LANGUAGES = ("en", "fr")
DEFAULT = "en"

_current: ContextVar[str | None] = ContextVar("cohort_language", default=None)
_cache: dict[str, _gettext.NullTranslations] = {}
_lock = threading.Lock()


def normalise(lang: str | None) -> str | None:
    """``fr_FR.UTF-8``, ``fr-CA`` or ``FR`` -> ``fr``; None for a language we do not speak."""
    if not lang:
        return None
    code = lang.strip().split(".")[0].split("@")[0].replace("_", "-").split("-")[0].lower()
    return code if code in LANGUAGES else None


def default_language() -> str:
    """``COHORT_DEFAULT_LANGUAGE`` when we speak it, else English.

    Read from the environment here rather than from ``cohort.settings`` because this layer
    imports nothing of ours; the setting is documented with the others.
    """
    return normalise(os.environ.get("COHORT_DEFAULT_LANGUAGE")) or DEFAULT


def negotiate(accept_language: str | None) -> str | None:
    """The best language of an ``Accept-Language`` header we speak, or None.

    Parsed by hand (q-values, wildcards ignored) because the header is hostile input: a
    malformed or oversized one yields None, never an error.
    """
    if not accept_language or len(accept_language) > 1000:
        return None
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language.split(",")[:50]):
        piece = part.strip()
        if not piece:
            continue
        tag, _, params = piece.partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        code = normalise(tag)
        if code is not None and 0 < quality <= 1:
            ranked.append((-quality, position, code))
    return min(ranked)[2] if ranked else None


def current_language() -> str:
    """The language of whoever is reading now (see the module's docstring)."""
    return _current.get() or default_language()


@contextlib.contextmanager
def use_language(lang: str | None) -> Iterator[str]:
    """Within the block, words are for a reader of ``lang`` (default language if None)."""
    chosen = normalise(lang) or default_language()
    token = _current.set(chosen)
    try:
        yield chosen
    finally:
        _current.reset(token)


def set_language(lang: str | None) -> str:
    """Set the reader's language for the rest of this context (a request's, a command's)."""
    chosen = normalise(lang) or default_language()
    _current.set(chosen)
    return chosen


def _compiled(po: Path) -> Translations:
    mo = po.with_suffix(".mo")
    if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
        with mo.open("rb") as handle:
            return Translations(handle, domain=po.stem)
    return Translations(io.BytesIO(mo_bytes(po)), domain=po.stem)


def translations(lang: str) -> _gettext.NullTranslations:
    """Every domain's catalogue of ``lang`` merged into one (English: none needed)."""
    found = _cache.get(lang)
    if found is not None:
        return found
    with _lock:
        found = _cache.get(lang)
        if found is not None:
            return found
        merged: _gettext.NullTranslations = _gettext.NullTranslations()
        folder = LOCALES / lang / "LC_MESSAGES"
        if lang != DEFAULT and folder.is_dir():
            base: Translations | None = None
            for domain in DOMAINS:
                po = folder / f"{domain}.po"
                if not po.exists():
                    continue
                part = _compiled(po)
                if base is None:
                    base = part
                else:
                    base.merge(part)
            if base is not None:
                merged = base
        _cache[lang] = merged
        return merged


def reload() -> None:
    """Forget compiled catalogues (a test that edits a ``.po``; a translator's preview)."""
    with _lock:
        _cache.clear()


def gettext(message: str, lang: str | None = None) -> str:
    """``message`` (English) in the reader's language; English when not yet translated."""
    return translations(lang or current_language()).gettext(message)


_ = gettext


def ngettext(singular: str, plural: str, n: int, lang: str | None = None) -> str:
    """The singular or plural form for ``n`` in the reader's language."""
    return translations(lang or current_language()).ngettext(singular, plural, n)


def pgettext(context: str, message: str, lang: str | None = None) -> str:
    """``message`` in the reader's language, told apart from the same English words used
    elsewhere by ``context`` (the message catalogue passes its ids as contexts)."""
    return translations(lang or current_language()).pgettext(context, message)


def N_(message: str) -> str:  # noqa: N802 (the gettext convention extractors look for)
    """Mark words for translation where they are defined (module constants); they are
    translated where shown, with :func:`gettext`."""
    return message


def _locale(lang: str | None) -> Locale:
    return _locale_of(normalise(lang) or current_language())


@functools.lru_cache(maxsize=32)
def _locale_of(code: str) -> Locale:
    """Parsed once per language: a page formats hundreds of numbers."""
    try:
        return Locale.parse(code)
    except (UnknownLocaleError, ValueError):
        return Locale.parse(DEFAULT)


@functools.lru_cache(maxsize=64)
def _pattern(text: str) -> _numbers.NumberPattern:
    """A number pattern parsed once (Babel parses its text at every call otherwise)."""
    return _numbers.parse_pattern(text)


@functools.lru_cache(maxsize=32)
def _group(locale: Locale) -> str:
    return _numbers.get_group_symbol(locale)


def format_date(value: date | datetime | None, lang: str | None = None) -> str:
    """A date the reader's way: 31/03/2026 in French. English keeps ISO (2026-03-31), which
    English-speaking staff of the study already read and which no reader misreads."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.date()
    locale = _locale(lang)
    if locale.language == DEFAULT:
        return value.isoformat()
    return _dates.format_date(value, format="dd/MM/yyyy", locale=locale)


def format_datetime(value: datetime | None, lang: str | None = None) -> str:
    """A moment the reader's way (31/03/2026 14:05 in French; ISO-like in English)."""
    if value is None:
        return ""
    locale = _locale(lang)
    if locale.language == DEFAULT:
        return value.strftime("%Y-%m-%d %H:%M")
    return _dates.format_datetime(value, format="dd/MM/yyyy HH:mm", locale=locale)


def format_decimal(value: float | int | None, digits: int | None = None,
                   lang: str | None = None) -> str:
    """A number the reader's way (1 234,5 in French); ``digits`` fixes the decimals."""
    if value is None:
        return ""
    locale = _locale(lang)
    if type(value) is int and value >= 0 and not digits:
        # A count, the most common number of a page: grouped by thousands, as Babel does
        # for both languages (a test compares the two over many counts).
        return f"{value:,}".replace(",", _group(locale))
    text = locale.decimal_formats[None].pattern if digits is None else (
        "#,##0." + "0" * digits if digits else "#,##0")
    return _numbers.format_decimal(value, format=_pattern(text), locale=locale)


def format_percent(value: float | None, digits: int = 0, lang: str | None = None) -> str:
    """A share (0.734) as a percentage the reader's way (73 % in French)."""
    if value is None:
        return ""
    locale = _locale(lang)
    pattern = locale.percent_formats[None].pattern  # "#,##0 %" in French: the space kept
    if digits:
        at = pattern.rindex("0") + 1
        pattern = pattern[:at] + "." + "0" * digits + pattern[at:]
    return _numbers.format_percent(value, format=_pattern(pattern), locale=locale)


def language_name(lang: str, in_lang: str | None = None) -> str:
    """A language's own name for a chooser (``français``), or in ``in_lang``."""
    return Locale.parse(lang).get_display_name(in_lang or lang) or lang
