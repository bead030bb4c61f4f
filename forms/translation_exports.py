"""The questionnaire's translations in other tools' shapes: REDCap's Multi-Language
Management language file (JSON) and an XLSForm (survey, choices and settings sheets with
``label::<Language> (<code>)`` columns), so that a study run in REDCap or in an ODK/Kobo
tool gets the same French as ours, keyed by the same field names and choice codes.
"""

from __future__ import annotations

import io
from typing import Any

from forms.expressions import Node
from forms.fields import Field
from forms.translations import DataDictionary, DictionaryTranslations

#: Field types whose Yes/No REDCap translates with its user-interface strings, not per field.
_REDCAP_UI_CHOICES = frozenset({"yesno", "truefalse"})


def to_redcap_mlm(dictionary: DataDictionary, translations: DictionaryTranslations,
                  display: str | None = None) -> dict[str, Any]:
    """One language's translations as a REDCap Multi-Language Management language file
    (Multi-Language Management page, "Import" of a language; JSON).

    What was matched, and from where: the root of a file exported by MLM (the empty
    template published in UCI-MIND/REDCap-Multi-Lingual-Migration,
    ``multi_language_manager_json/sample.json``): ``creator`` (always ``"REDCap MLM"``;
    REDCap's import page refuses a file without it), ``key`` (the language id),
    ``display``, ``rtl``, ``sort``, then one array per kind of text. Ours fills two:

    - ``fieldTranslations``: ``{"id": field name, "form": …, "label": {"translation": …},
      "enum": [{"id": code, "translation": …}]}`` as that project's
      ``prepare_translations.py`` fills it, with ``note`` the same way as its later
      version does; ``header`` (the section header) is our reading by analogy with
      REDCap's own name for it (``field-header``), not seen in an exported file;
    - ``formTranslations``: ``{"id": form name, "translation": …}``, as a REDCap
      knowledge-base article on import files describes it (not seen in an exported file
      either). Check an import on a test project before relying on these two.

    REDCap's import is best effort: ids it does not know are ignored, and only ``id`` and
    ``translation`` items matter. So ``default`` (our English, beside each translation for
    whoever reads the file) is ignored on import, and the ``hash`` REDCap uses to spot a
    changed English is left out (REDCap computes it; without it nothing is flagged). An
    untranslated text has an empty ``translation``, which REDCap shows in its reference
    language. The Yes/No of yesno and truefalse fields are REDCap interface strings, not
    field choices, so they are not in ``enum``. Not matched: events, surveys, alerts,
    missing-data codes, matrix groups (the dictionary has no translations of them).
    """
    t = translations.text

    def item(part: str, name: str, english: str, code: str = "") -> dict[str, str]:
        return {"translation": t(part, name, code) or "", "default": english}

    forms_out = [{"id": name, "translation": t("form", name) or "", "default": form.label}
                 for name, form in dictionary.forms.items()]
    fields_out = []
    for f in dictionary.fields.values():
        entry: dict[str, Any] = {"id": f.name, "form": f.form}
        if f.section_header:
            entry["header"] = item("section_header", f.name, f.section_header)
        entry["label"] = item("label", f.name, f.label)
        if f.note:
            entry["note"] = item("note", f.name, f.note)
        if f.choices and f.field_type not in _REDCAP_UI_CHOICES:
            entry["enum"] = [{"id": code, **item("choice", f.name, label, code)}
                             for code, label in f.choices.items()]
        fields_out.append(entry)
    lang = translations.lang
    return {
        "creator": "REDCap MLM",
        "instructions": "Written by the OUTSIDER cohort data manager (cohort dictionary "
                        "translations --format mlm) from data_dictionary." + lang + ".csv. "
                        "Import it on REDCap's Multi-Language Management page into a "
                        "language with this key; 'default' items are the English, for "
                        "reading only.",
        "key": lang, "display": display or _language_name(lang), "rtl": False, "sort": "",
        "uiTranslations": [], "uiOptions": [],
        "formTranslations": forms_out, "eventTranslations": [],
        "fieldTranslations": fields_out,
        "matrixTranslations": [], "surveyTranslations": [], "sqTranslations": [],
        "asiTranslations": [], "alertTranslations": [], "mdcTranslations": [],
        "pdfTranslations": [], "protemailTranslations": [],
    }


def _language_name(lang: str, in_lang: str | None = None) -> str:
    from forms.i18n import language_name

    try:
        return language_name(lang, in_lang)
    except ValueError:
        return lang


def xlsform_language(lang: str) -> str:
    """XLSForm's name of a language column: ``French (fr)`` (``label::French (fr)``), the
    English name and the code, as pyxform recommends."""
    name = _language_name(lang, "en")
    return f"{name[:1].upper()}{name[1:]} ({lang})"


_XLSFORM_TEXT = {"integer": "integer", "number": "decimal", "date_ymd": "date",
                 "date_dmy": "date", "date_mdy": "date", "datetime_ymd": "dateTime",
                 "datetime_seconds_ymd": "dateTime", "time": "time"}


#: REDCap operators and their XPath spelling (what XLSForm's ``relevant`` and
#: ``calculation`` columns take).
_XPATH_OPS = {"=": "=", "<>": "!=", "==": "=", "!=": "!=", "<": "<", "<=": "<=", ">": ">",
              ">=": ">=", "+": "+", "-": "-", "*": "*", "/": "div", "and": "and",
              "or": "or"}


def xpath(node: Node | None) -> str:
    """A REDCap expression (already parsed) in XLSForm's XPath: ``[consent] = '1'`` ->
    ``${consent} = '1'``, ``[products(8)] = '1'`` -> ``if(selected(${products}, '8'), '1',
    '0') = '1'``, ``if(…)`` kept. Empty when the expression uses what has no plain XPath
    twin (another event's answer, smart variables, REDCap functions other than ``if``,
    powers): the REDCap dictionary stays the reference for logic."""
    if node is None:
        return ""
    try:
        return _xpath(node)
    except ValueError:
        return ""


def _xpath(node: Node) -> str:
    op = node.op
    if op == "literal":
        if isinstance(node.value, str):
            if "'" in node.value:
                raise ValueError("quote in a text")
            return f"'{node.value}'"
        if isinstance(node.value, bool) or node.value is None:
            raise ValueError("no XPath literal")
        return str(node.value)
    if op == "var":
        if node.event or node.instance:
            raise ValueError("another event or instance")
        if node.code:
            return f"if(selected(${{{node.name}}}, '{node.code}'), '1', '0')"
        return f"${{{node.name}}}"
    if op == "not":
        return f"not({_xpath(node.args[0])})"
    if op == "neg":
        return f"-({_xpath(node.args[0])})"
    if op in _XPATH_OPS and len(node.args) == 2:
        return f"({_xpath(node.args[0])} {_XPATH_OPS[op]} {_xpath(node.args[1])})"
    if op == "call" and node.name == "if" and len(node.args) == 3:
        return "if(" + ", ".join(_xpath(arg) for arg in node.args) + ")"
    raise ValueError(f"no XPath for {op}")


def _xlsform_type(f: Field) -> str:
    if f.field_type in ("radio", "dropdown", "yesno", "truefalse"):
        return f"select_one {f.name}"
    if f.field_type == "checkbox":
        return f"select_multiple {f.name}"
    if f.field_type == "calc":
        return "calculate" if xpath(f.calc_node) else "note"
    if f.field_type == "descriptive":
        return "note"
    if f.field_type == "text":
        return _XLSFORM_TEXT.get(f.validation or "", "text")
    return "text"


def xlsform_sheets(dictionary: DataDictionary,
                   translations: DictionaryTranslations) -> dict[str, list[list[str]]]:
    """The XLSForm ``survey``, ``choices`` and ``settings`` sheets as rows of cells, with
    ``label::English (en)`` and ``label::<Language> (<code>)`` columns (and ``hint::`` for
    field notes). Each form is a ``begin group``/``end group`` named after it, a section
    header a ``note`` row before its field (named ``<field>_section``), each field with
    choices its own choice list (named after the field, so each field's choice texts can
    be translated apart). Branching logic (``relevant``), calculations and ``required`` are
    carried where :func:`xpath` can write them (a calc field it cannot write becomes a
    ``note``); validation bounds and action tags are not: the REDCap dictionary stays the
    reference. An untranslated text is left empty in its language's column."""
    t = translations.text
    other = xlsform_language(translations.lang)
    english = xlsform_language("en")
    survey = [["type", "name", f"label::{english}", f"label::{other}", f"hint::{english}",
               f"hint::{other}", "required", "relevant", "calculation"]]
    choices = [["list_name", "name", f"label::{english}", f"label::{other}"]]
    names = set(dictionary.fields) | set(dictionary.forms)
    for form_name, form in dictionary.forms.items():
        survey.append(["begin group", form_name, form.label, t("form", form_name) or "",
                       "", "", "", "", ""])
        for f in form.fields:
            if f.section_header:
                name = f"{f.name}_section"
                while name in names:
                    name += "_"
                names.add(name)
                survey.append(["note", name, f.section_header,
                               t("section_header", f.name) or "", "", "", "",
                               xpath(f.branching_node), ""])
            kind = _xlsform_type(f)
            survey.append([kind, f.name, f.label, t("label", f.name) or "", f.note,
                           (t("note", f.name) or "") if f.note else "",
                           "yes" if f.required else "", xpath(f.branching_node),
                           xpath(f.calc_node) if kind == "calculate" else ""])
            if f.choices and f.field_type != "calc":
                choices += [[f.name, code, label, t("choice", f.name, code) or ""]
                            for code, label in f.choices.items()]
        survey.append(["end group", form_name, "", "", "", "", "", "", ""])
    settings = [["form_title", "form_id", "default_language"],
                ["OUTSIDER", "outsider", english]]
    return {"survey": survey, "choices": choices, "settings": settings}


def to_xlsform(dictionary: DataDictionary, translations: DictionaryTranslations) -> bytes:
    """:func:`xlsform_sheets` as an .xlsx workbook (openpyxl). Every text cell goes
    through ``forms.safe_cells.neutralise``: openpyxl makes a formula of text starting
    with ``=``."""
    from openpyxl import Workbook

    from forms.safe_cells import neutralise

    book = Workbook()
    book.remove(book.worksheets[0])
    for title, rows in xlsform_sheets(dictionary, translations).items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append([neutralise(cell) for cell in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
