"""Rendering helpers shared by the pages: templates, flash messages, CSRF, role labels."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape
from jinja2.utils import htmlsafe_json_dumps
from markupsafe import Markup

from api.deps import SignedIn, check_csrf, csrf_token
from api.inputs import CheckedRoute
from cohort.dictionary import get_dictionary
from cohort.errors import CohortError, FieldError, ValidationFailed
from cohort.messages import LEGACY
from cohort.messages import render as render_message
from cohort.models import Deviation
from cohort.recent import Recent
from cohort.services.deviations import describe
from cohort.vocab import Role
from forms import DataDictionary
from forms.i18n import (
    LANGUAGES,
    N_,
    current_language,
    format_date,
    format_datetime,
    format_decimal,
    format_percent,
    gettext,
    language_name,
    translations,
)
from forms.i18n.catalogues import speaking

# Words in templates go through {% trans %} / _() to the reader's catalogue (forms.i18n).
TEMPLATES = Jinja2Templates(env=speaking(Environment(
    loader=FileSystemLoader(Path(__file__).parent.parent / "templates"),
    autoescape=select_autoescape())))
TEMPLATES.env.filters.update(date=format_date, datetime=format_datetime,
                             number=format_decimal, percent=format_percent)
TEMPLATES.env.globals.update(current_language=current_language, LANGUAGES=LANGUAGES,
                             language_name=language_name)
FLASH = "flash"



K = TypeVar("K", bound=Hashable)


class Words(Mapping[K, str]):
    """Words for codes (a role, a window state, a rule), made in the reader's language when
    read, so that a template keeps writing ``ROLE_LABELS[role]`` and a page rendered for a
    French reader gets French. Made once per language (the catalogues do not change while
    the server runs). Keys are codes and never change."""

    def __init__(self, words: Callable[[], Mapping[K, str]]) -> None:
        self._make = words
        self._made: dict[str, Mapping[K, str]] = {}

    def _words(self) -> Mapping[K, str]:
        lang = current_language()
        if lang not in self._made:
            self._made[lang] = self._make()
        return self._made[lang]

    def __getitem__(self, key: K) -> str:
        return self._words()[key]

    def __iter__(self) -> Iterator[K]:
        return iter(self._words())

    def __len__(self) -> int:
        return len(self._words())


def marked(source: Mapping[K, str]) -> Words[K]:
    """``Words`` of English marked with ``N_`` where defined."""
    return Words(lambda: {key: gettext(text) for key, text in source.items()})


ROLE_LABELS = marked({
    Role.OUTREACH_WORKER: N_("Outreach worker"),
    Role.RESEARCH_OFFICER: N_("Research officer"),
    Role.STATISTICIAN: N_("Statistician"),
    Role.ADMIN: N_("Data manager"),
})
WINDOW_LABELS = marked({
    "upcoming": N_("Upcoming"), "due": N_("In window now"), "overdue": N_("Window closed"),
    "complete": N_("Follow-up complete"), "not_followed": N_("No longer followed"),
})
STATUS_LABELS = marked({
    "active": N_("Active"), "withdrawn": N_("Withdrew"), "deceased": N_("Deceased"),
    "lost_to_follow_up": N_("Not seen lately (lost to follow-up)"),
    "returned": N_("Came back"),
})
#: Codes shown in lists; the English is the code in words, as it always read.
GROUP_LABELS = marked({"intervention": N_("intervention"), "comparison": N_("comparison")})
SETTING_LABELS = marked({
    "squat": N_("squat"), "public_space": N_("public space"), "car_park": N_("car park"),
    "vehicle": N_("vehicle"), "other_off_site": N_("other off site"),
    "centre_premises": N_("centre premises"),
})
MODALITY_LABELS = marked({"in_person": N_("in person"), "online": N_("online"),
                          "phone": N_("phone")})
TEMPLATES.env.globals.update(ROLE_LABELS=ROLE_LABELS, WINDOW_LABELS=WINDOW_LABELS,
                             STATUS_LABELS=STATUS_LABELS, GROUP_LABELS=GROUP_LABELS,
                             SETTING_LABELS=SETTING_LABELS, MODALITY_LABELS=MODALITY_LABELS,
                             describe=describe)

#: Words the pages' own scripts write (drafts, branching checks, session count), English
#: keys with ``{name}`` placeholders; the page carries them in the reader's language
#: (``script_words``, a JSON block ``#page-words`` in base.html).
SCRIPT_WORDS = (
    # static/drafts.js
    N_("Answers typed earlier on this phone ({time}) are filled in again."),
    N_("Start again"),
    # static/branching.js (the light checks of dictionary forms, online and offline)
    N_("Please choose an answer."),
    N_("Please answer this question."),
    N_("Please enter a number."),
    N_("Please enter a whole number."),
    N_("Please enter a value of at least {min}."),
    N_("Please enter a value of at least {min}, the answer to “{question}”."),
    N_("Please enter a value of at most {max}."),
    N_("Please enter a value of at most {max}, the answer to “{question}”."),
    N_("Please enter a date up to today ({date})."),
    N_("Please use at most {n} words."),
    # static/sections.js
    N_("Sections of this form"),
    N_("{done} of {total} questions answered"),
    # static/session.js
    N_("{n} AERLI-trained worker ticked; the protocol asks for {needed} observing in person."),
    N_("{n} AERLI-trained workers ticked; the protocol asks for {needed} observing in "
       "person."),
)


def script_words(*more: tuple[str, ...]) -> dict[str, str]:
    """English -> the reader's words for the pages' scripts (``SCRIPT_WORDS`` and
    ``more``), with ``lang`` the reader's language (for dates)."""
    words = {text: gettext(text) for group in (SCRIPT_WORDS, *more) for text in group}
    words["lang"] = current_language()
    return words


def page_words(*more: tuple[str, ...]) -> Markup:
    """``script_words(*more) | tojson``, made once per language (and catalogue: a reloaded
    one makes it again): every page carries it, and looking up its twenty sentences and
    writing them as JSON cost more than the rest of a page's frame."""
    lang = current_language()
    catalogue = translations(lang)
    key = (lang, id(catalogue), more)
    found = _PAGE_WORDS.get(key)
    if found is None or found[0] is not catalogue:
        env = TEMPLATES.env
        found = (catalogue, htmlsafe_json_dumps(
            script_words(*more), dumps=env.policies["json.dumps_function"],
            **env.policies["json.dumps_kwargs"]))
        _PAGE_WORDS.put(key, found)
    return found[1]


_PAGE_WORDS: Recent[tuple[Any, Markup]] = Recent(16)
TEMPLATES.env.globals.update(script_words=script_words, page_words=page_words)


def page_router() -> APIRouter:
    """A router for pages: left out of the OpenAPI schema; POSTs check the CSRF token."""
    return APIRouter(include_in_schema=False, dependencies=[Depends(check_csrf)],
                     route_class=CheckedRoute)


def flash(request: Request, text: str, kind: str = "ok") -> None:
    messages = list(request.session.get(FLASH, []))
    messages.append([kind, text])
    request.session[FLASH] = messages


def flash_saved(request: Request, saved: str, deviations: list[Deviation]) -> None:
    """``saved`` ("Saved: M0 questionnaire of X.", in the reader's words) — and, when a soft
    rule flagged the record, what it means in plain words."""
    if not deviations:
        flash(request, saved)
        return
    notes = " ".join(deviation_reason(d) for d in deviations)
    flash(request, gettext("{saved} Please note: {notes} A research officer will review it; "
                           "nothing more is needed from you now.").format(saved=saved,
                                                                          notes=notes),
          "note")


def deviation_reason(deviation: Deviation, lang: str | None = None) -> str:
    """A deviation's reason without the participant's code (already shown on the page)."""
    if deviation.message_id == LEGACY:
        _, _, rest = deviation.message.partition(": ")
        return rest or deviation.message
    return render_message(deviation.message_id, deviation.message_params, lang)


def page_dictionary() -> DataDictionary:
    """The study's dictionary with its questionnaire texts (labels, choices, notes, section
    headers) in the reader's language; names, codes and logic are the same."""
    return get_dictionary().in_language(current_language())


def field_label(problem: FieldError) -> str:
    """A refused answer's question as the reader reads it (their language's label)."""
    dictionary = page_dictionary()
    f = dictionary.fields.get(problem.field)
    if f is None or dictionary is get_dictionary():
        return problem.label or problem.field
    return f.plain_label


def plain_error(error: CohortError) -> str:
    """An error for a page, in the reader's language: each refused field named by its
    label, not its API name."""
    if isinstance(error, ValidationFailed) and error.problems:
        return " ".join(
            gettext("{field}: {problem}").format(field=field_label(p), problem=p.text)
            for p in error.problems)
    return error.render()


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    user: SignedIn | None = None,
    status: int = 200,
) -> HTMLResponse:
    ctx: dict[str, Any] = {
        "user": user,
        "csrf_token": csrf_token(request),
        "messages": request.session.pop(FLASH, []),
    }
    ctx.update(context or {})
    return TEMPLATES.TemplateResponse(request, name, ctx, status_code=status)


def render_error(request: Request, *, status: int, title: str, detail: str) -> HTMLResponse:
    return render(request, "error.html", {"title": title, "detail": detail}, status=status)
