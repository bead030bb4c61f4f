"""Messages as data: an id and named parameters in the domain, words only at the edge.

Rules, domain errors, import problems and deviations carry a :class:`Message` (an id from
the catalogue and JSON-able parameters). The command line, the API, the pages, the
workbooks and the reports turn it into text with :func:`render`, in the reader's language.

English is the source (``cohort.messages.en``); other languages come from the gettext
catalogues of ``forms.i18n`` (domain ``messages``), where each English template is a msgid
and its id the context, so translators see the English and the id. A language with no
catalogue can still be plugged in with ``register_language``. With no ``lang`` given, a
message renders in the current reader's language (``forms.i18n.current_language``).

Parameters are stored with deviations, so they are reduced to JSON values when the message
is made: dates become ISO text, enumerations their code. A template that needs a number
(``{offset:+d}``) gets a number.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from typing import Any

from cohort.messages.en import CATALOGUE
from forms.i18n import DEFAULT, LANGUAGES, current_language, format_date, format_decimal, pgettext

__all__ = ["CATALOGUE", "Message", "deviation_text", "msg", "parameters",
           "register_language", "render", "text_of"]

#: Parameter values a stored message may hold.
Param = str | int | float | bool | None

Lookup = Callable[[str, str], str | None]
_LANGUAGES: dict[str, Lookup] = {}

#: The id of the message that holds a sentence written before messages were data (a
#: deviation stored earlier whose words could not be read back into parameters).
LEGACY = "legacy.text"


def _plain(value: object) -> Param:
    if isinstance(value, Enum):
        return _plain(value.value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


@dataclass(frozen=True)
class Message:
    """A message id of the catalogue and its parameters (JSON values only)."""

    id: str
    params: Mapping[str, Param] = field(default_factory=dict)

    def render(self, lang: str | None = None) -> str:
        return render(self.id, self.params, lang)

    def __str__(self) -> str:
        return self.render()

    def __hash__(self) -> int:  # problems holding a message are set members
        return hash((self.id, tuple(sorted(self.params.items()))))


def msg(message_id: str, /, **params: object) -> Message:
    """The message ``message_id`` with its parameters; an unknown id fails at once (so a
    typo is found by the first test that reaches it, not by a reader)."""
    if message_id not in CATALOGUE:
        raise KeyError(f"message id {message_id!r} is not in the catalogue")
    return Message(message_id, {name: _plain(value) for name, value in params.items()})


def parameters(message_id: str) -> set[str]:
    """The named parameters the English template of ``message_id`` uses."""
    return {name for _, name, _, _ in string.Formatter().parse(CATALOGUE[message_id])
            if name}


def register_language(lang: str, lookup: Lookup) -> None:
    """Plug in a language: ``lookup(message_id, english_template)`` returns the template
    in that language, or None when it has no translation yet (English is shown)."""
    _LANGUAGES[lang] = lookup


def _catalogue_lookup(lang: str) -> Lookup:
    def lookup(message_id: str, english: str) -> str | None:
        return pgettext(message_id, english, lang=lang)
    return lookup


def _template(message_id: str, lang: str) -> str:
    english = CATALOGUE[message_id]
    lookup = _LANGUAGES.get(lang)
    if lookup is None:
        return english
    return lookup(message_id, english) or english


def render(message_id: str, params: Mapping[str, Any] | None = None,
           lang: str | None = None) -> str:
    """The words of a message for a reader of ``lang`` (English when not translated).

    An id no longer in the catalogue, or a missing parameter, renders what is known
    rather than failing: this runs at the edge, in front of a person.
    """
    lang = lang or current_language()
    values = dict(params or {})
    if message_id not in CATALOGUE:
        return str(values.get("text") or message_id)
    words = _Words(lang)
    for template in (_template(message_id, lang), CATALOGUE[message_id]):
        try:
            return words.vformat(template, (), _Lenient(values))
        except (ValueError, IndexError, TypeError):
            continue
    return CATALOGUE[message_id]


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class _Words(string.Formatter):
    """Parameters shown the reader's way: in French an ISO date reads 31/03/2026 and a
    grouped or general number 1\u202f234,5; English keeps Python's formatting (ISO dates)."""

    def __init__(self, lang: str) -> None:
        self.lang = lang

    def format_field(self, value: Any, format_spec: str) -> Any:
        if self.lang != DEFAULT:
            if isinstance(value, str) and not format_spec and _ISO_DATE.fullmatch(value):
                return format_date(date.fromisoformat(value), self.lang)
            if (format_spec in (",", "g") and isinstance(value, int | float)
                    and not isinstance(value, bool)):
                return format_decimal(value, lang=self.lang)
        return super().format_field(value, format_spec)


class _Lenient(dict[str, Any]):
    """Parameters where a missing one shows as its own ``{name}``."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def deviation_text(message_id: str, params: Mapping[str, Any], lang: str | None = None) -> str:
    """A deviation's words: the participant's code (parameter ``participant``), then the
    reason, in ``lang``."""
    reason = render(message_id, params, lang)
    code = params.get("participant")
    if code is None or message_id == LEGACY:
        return reason
    return render("deviation.text", {"participant": code, "text": reason}, lang)


def text_of(message: Message | str, lang: str | None = None) -> str:
    """Words of a message, or the text itself when given words (older callers)."""
    return message if isinstance(message, str) else message.render(lang)


for _lang in LANGUAGES[1:]:
    register_language(_lang, _catalogue_lookup(_lang))
