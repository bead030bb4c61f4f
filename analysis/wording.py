"""Words of the analyses for people, kept apart from the estimates so that one set of
estimates renders in any language.

The estimates (frames, CSV, JSON) never depend on the reader's language. What a person
reads beside them (notes, model descriptions, labels of groups, analyses and contrasts in
the report's tables and figures) is kept as a :class:`Note`: a ``str`` whose value is the
English text (so CSV, JSON, logs and ``"; ".join(notes)`` are as before) that also
remembers its message and parameters, so the report renders it in the reader's language
with :func:`local`. Values in the result frames (``"intervention"``, ``"per-protocol"``,
``"group × time interaction, M6"``) stay English codes in the files; :func:`word` gives
their words for a table or a figure.
"""

from __future__ import annotations

import re
from typing import Any

from forms.i18n import DEFAULT, N_, current_language, format_decimal, gettext, pgettext

__all__ = ["Note", "Num", "heading", "local", "number", "word"]


class Num:
    """A number inside a note, written the reader's way (``format`` spec as in English)."""

    __slots__ = ("spec", "value")

    def __init__(self, value: float, spec: str = "g") -> None:
        self.value = value
        self.spec = spec

    def __reduce__(self) -> tuple[Any, ...]:
        return (Num, (self.value, self.spec))

    def text(self, lang: str | None = None) -> str:
        english = format(self.value, self.spec)
        return english if (lang or current_language()) == DEFAULT else english.replace(
            ".", ",")

    def __str__(self) -> str:
        return self.text(DEFAULT)


def _param(value: Any, lang: str) -> Any:
    if isinstance(value, Note | Num):
        return value.text(lang)
    if isinstance(value, list | tuple):
        return ", ".join(str(_param(v, lang)) for v in value)
    return value


def _render(msgid: str, params: dict[str, Any], lang: str) -> str:
    template = gettext(msgid, lang)
    if not params:
        return template
    return template.format(**{k: _param(v, lang) for k, v in params.items()})


class Note(str):
    """Words for a reader: the English text as a ``str``, renderable in any language.

    Write ``Note(N_("not estimable: {problem}"), problem=...)``; a parameter may itself be
    a :class:`Note` (rendered in the same language), a :class:`Num`, or a list of them
    (joined by commas).
    """

    msgid: str
    params: dict[str, Any]

    def __new__(cls, msgid: str, **params: Any) -> Note:
        self = super().__new__(cls, _render(msgid, params, DEFAULT))
        self.msgid = msgid
        self.params = params
        return self

    def __reduce__(self) -> tuple[Any, ...]:  # worker processes send notes back pickled
        return (_note, (self.msgid, self.params))

    def text(self, lang: str | None = None) -> str:
        """The words in ``lang`` (default: the reader's language)."""
        return _render(self.msgid, self.params, lang or current_language())


def _note(msgid: str, params: dict[str, Any]) -> Note:
    return Note(msgid, **params)


def local(text: Any, lang: str | None = None) -> str:
    """A note in ``lang``; any other text (a library's warning, a formula) as it is."""
    if isinstance(text, Note | Num):
        return text.text(lang)
    return str(text)


def number(value: float, digits: int, lang: str | None = None) -> str:
    """A table's number: ``digits`` decimals, a decimal comma in French; very small
    numbers in scientific notation (as the English report has always shown them)."""
    lang = lang or current_language()
    if value != 0 and abs(value) < 10 ** -digits:
        english = f"{value:.1e}"
        return english if lang == DEFAULT else english.replace(".", ",")
    if lang == DEFAULT:
        return f"{value:.{digits}f}"
    return format_decimal(value, digits, lang)


# Values of the result frames that are words (groups, analyses, stages of the flow, Table 1
# levels): the English value is the key, its words are translated where shown.
_WORDS: dict[str, str] = {
    "intervention": N_("intervention"),
    "comparison": N_("comparison"),
    "all": N_("all"),
    "All": N_("All"),
    "All centres": N_("All centres"),
    "all centres": N_("all centres"),
    "ITT": N_("ITT"),
    "per-protocol": N_("per-protocol"),
    "ITT, participant-clustered (ignores centres)": N_(
        "ITT, participant-clustered (ignores centres)"),
    "centre fixed effects": N_("centre fixed effects"),
    "IPTW": N_("IPTW"),
    "IPTW + IPCW": N_("IPTW + IPCW"),
    "mixed-effects": N_("mixed-effects"),
    "tipping point": N_("tipping point"),
    "Screened": N_("Screened"),
    "Not eligible": N_("Not eligible"),
    "Eligible": N_("Eligible"),
    "Declined": N_("Declined"),
    "Enrolled": N_("Enrolled"),
    "Lost to follow-up": N_("Lost to follow-up"),
    "Died": N_("Died"),
    "Withdrew": N_("Withdrew"),
    "Per protocol": N_("Per protocol"),
    "Participants": N_("Participants"),
    "Yes": N_("Yes"),
    "missing": N_("missing"),
    "mean (SD)": N_("mean (SD)"),
    "median [IQR]": N_("median [IQR]"),
    "weighted median [IQR]": N_("weighted median [IQR]"),
    "primary": N_("primary"),
    "secondary": N_("secondary"),
    "propensity score (logit)": N_("propensity score (logit)"),
    "completion of follow-up (logit)": N_("completion of follow-up (logit)"),
    "clustered on centre": N_("clustered on centre"),
    "stratified by centre": N_("stratified by centre"),
}

# Values with a visit or a variable in them: pattern -> message with the same names.
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^group × time interaction, (?P<visit>\S+)$"),
     N_("group × time interaction, {visit}")),
    (re.compile(r"^intervention vs comparison at (?P<visit>\S+)$"),
     N_("intervention vs comparison at {visit}")),
    (re.compile(r"^(?P<visit>\S+) vs (?P<base>\S+), comparison$"),
     N_("{visit} vs {base}, comparison group")),
    (re.compile(r"^(?P<visit>\S+) vs (?P<base>\S+), intervention$"),
     N_("{visit} vs {base}, intervention group")),
    (re.compile(r"^(?P<visit>\S+) questionnaire$"), N_("{visit} questionnaire")),
    (re.compile(r"^log-rank by (?P<by>\S+)$"), N_("log-rank by {by}")),
    (re.compile(r"^completion of (?P<visit>\S+) \(logit\)$"),
     N_("completion of {visit} (logit)")),
    (re.compile(r"^multiple imputation \(MICE, (?P<n>\d+) imputations\)$"),
     N_("multiple imputation (MICE, {n} imputations)")),
]


def word(value: Any, lang: str | None = None) -> Any:
    """The words of a value of a result frame in ``lang`` (codes and numbers unchanged)."""
    if not isinstance(value, str):
        return value
    if isinstance(value, Note):
        return value.text(lang)
    lang = lang or current_language()
    if lang == DEFAULT:
        return value
    found = _WORDS.get(value)
    if found is not None:
        return gettext(found, lang)
    for pattern, msgid in _PATTERNS:
        match = pattern.match(value)
        if match:
            return gettext(msgid, lang).format(**match.groupdict())
    return value


def heading(column: str, lang: str | None = None) -> str:
    """A table's column heading: the column's name in English (the name statisticians find
    in the CSV files), its meaning in other languages."""
    lang = lang or current_language()
    if lang == DEFAULT:
        return column
    found = _headings(lang).get(column)
    if found is not None:
        return found
    for pattern, msgid in _VISIT_COLUMNS:
        match = pattern.match(column)
        if match:
            return gettext(msgid, lang).format(visit=match["key"].upper())
    return column


def _headings(lang: str) -> dict[str, str]:
    # Translators: column headings of the report's tables. The msgid is the column's name
    # in the CSV files; the translation says what the column holds.
    return {
        "stage": pgettext("report column", "stage", lang),
        "group": pgettext("report column", "group", lang),
        "group_itt": pgettext("report column", "group_itt", lang),
        "centre_code": pgettext("report column", "centre_code", lang),
        "enrolled": pgettext("report column", "enrolled", lang),
        "n": pgettext("report column", "n", lang),
        "level": pgettext("report column", "level", lang),
        "events": pgettext("report column", "events", lang),
        "time": pgettext("report column", "time", lang),
        "survival": pgettext("report column", "survival", lang),
        "ci_lower": pgettext("report column", "ci_lower", lang),
        "ci_upper": pgettext("report column", "ci_upper", lang),
        "median": pgettext("report column", "median", lang),
        "test": pgettext("report column", "test", lang),
        "statistic": pgettext("report column", "statistic", lang),
        "df": pgettext("report column", "df", lang),
        "p": pgettext("report column", "p", lang),
        "levels": pgettext("report column", "levels", lang),
        "term": pgettext("report column", "term", lang),
        "coef": pgettext("report column", "coef", lang),
        "se": pgettext("report column", "se", lang),
        "hr": pgettext("report column", "hr", lang),
        "model": pgettext("report column", "model", lang),
        "chisq": pgettext("report column", "chisq", lang),
        "odds_ratio": pgettext("report column", "odds_ratio", lang),
        "visit": pgettext("report column", "visit", lang),
        "lost": pgettext("report column", "lost", lang),
        "at_risk": pgettext("report column", "at_risk", lang),
        "cumulative_incidence": pgettext("report column", "cumulative_incidence", lang),
        "competing": pgettext("report column", "competing", lang),
        "variable": pgettext("report column", "variable", lang),
        "label": pgettext("report column", "label", lang),
        "smd": pgettext("report column", "smd", lang),
        "outcome": pgettext("report column", "outcome", lang),
        "analysis": pgettext("report column", "analysis", lang),
        "contrast": pgettext("report column", "contrast", lang),
        "or_ci": pgettext("report column", "or_ci", lang),
        "p_holm": pgettext("report column", "p_holm", lang),
        "formula": pgettext("report column", "formula", lang),
        "delta": pgettext("report column", "delta", lang),
        "log_or": pgettext("report column", "log_or", lang),
        "weight_min": pgettext("report column", "weight_min", lang),
        "weight_max": pgettext("report column", "weight_max", lang),
        "weight_mean": pgettext("report column", "weight_mean", lang),
        "fraction_missing_info": pgettext("report column", "fraction_missing_info", lang),
        "ps_mean_intervention": pgettext("report column", "ps_mean_intervention", lang),
        "ps_mean_comparison": pgettext("report column", "ps_mean_comparison", lang),
        "observed_pct": pgettext("report column", "observed_pct", lang),
        "effective_n": pgettext("report column", "effective_n", lang),
        "intervention": pgettext("report column", "intervention", lang),
        "comparison": pgettext("report column", "comparison", lang),
        "all": pgettext("report column", "all", lang),
    }


# Columns named after a visit (``m6_done``): pattern -> heading with the visit's name.
_VISIT_COLUMNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^eligible_(?P<key>[a-z0-9]+)$"), N_("due for {visit}")),
    (re.compile(r"^(?P<key>[a-z0-9]+)_due$"), N_("due for {visit}")),
    (re.compile(r"^(?P<key>[a-z0-9]+)_done$"), N_("{visit} done")),
    (re.compile(r"^(?P<key>[a-z0-9]+)_in_window$"), N_("{visit} in window")),
    (re.compile(r"^(?P<key>[a-z0-9]+)_pct$"), N_("{visit} done (%)")),
    (re.compile(r"^(?P<key>[a-z0-9]+)_done_pct$"), N_("{visit} done (%)")),
    (re.compile(r"^(?P<key>[a-z0-9]+)_in_window_pct$"), N_("{visit} in window (%)")),
    (re.compile(r"^(?P<key>[a-z0-9]+)_status_retained_pct$"),
     N_("{visit} retained by status (%)")),
    (re.compile(r"^imputed_(?P<key>[a-z0-9]+)$"), N_("{visit} imputed")),
]

