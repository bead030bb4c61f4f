"""Loading a dictionary: every problem of every line is collected before anything is built.

A dictionary with errors raises ``DictionaryError`` listing them all (so a data manager fixes
the file in one go) and is never half-loaded; warnings (REDCap features read but not applied)
are kept on the loaded ``DataDictionary``.
"""

from __future__ import annotations

import os
import sysconfig
from collections.abc import Mapping
from dataclasses import replace
from functools import cache
from pathlib import Path

from forms import constants as c
from forms.actiontags import Annotation
from forms.dictionary import DataDictionary
from forms.errors import DictionaryError, DictionaryProblem
from forms.events import EventMapping, parse_events
from forms.expressions import Node
from forms.fields import Field, build_field, redcap_name, the_part
from forms.i18n import LANGUAGES, _
from forms.missing import MISSING_FILE, parse_missing_codes
from forms.reader import RawRow, read_file
from forms.smart import EVENT_PREFIXES
from forms.translations import read_translations, read_translations_text, translations_path
from forms.values import FieldBound

DICTIONARY_FILE = "data_dictionary.csv"
EVENTS_FILE = "event_mapping.csv"


def _read_text(path: Path) -> str:
    return path.read_bytes().decode("utf-8-sig")


def load_dictionary(source: str | Path, *, events: str | Path | None = None,
                    missing_codes: str | Path | None = None) -> DataDictionary:
    """Load a REDCap data dictionary CSV, its instrument–event mapping if there is one
    (``events``, or ``event_mapping.csv`` next to the dictionary) and the project's
    missing-data codes if there are some (``missing_codes``, or ``missing_data_codes.txt``
    next to the dictionary)."""
    path = Path(source)
    if events is None and (path.parent / EVENTS_FILE).is_file():
        events = path.parent / EVENTS_FILE
    if missing_codes is None and (path.parent / MISSING_FILE).is_file():
        missing_codes = path.parent / MISSING_FILE
    events_text = _read_text(Path(events)) if events is not None else None
    dictionary = load_dictionary_text(
        _read_text(path), events_text=events_text, source=path.name,
        events_source=Path(events).name if events is not None else EVENTS_FILE,
        missing_text=_read_text(Path(missing_codes)) if missing_codes is not None else None,
        missing_source=Path(missing_codes).name if missing_codes is not None
        else MISSING_FILE,
    )
    # The questionnaire's translations beside it (data_dictionary.fr.csv), if any: a
    # translation file never stops the questionnaire loading (forms.translations), its
    # problems are for ``cohort dictionary check``.
    for lang in LANGUAGES[1:]:
        beside = translations_path(path, lang)
        if beside.is_file():
            dictionary.translations[lang] = read_translations(beside, lang)
    return dictionary


def load_dictionary_text(
    text: str,
    *,
    events_text: str | None = None,
    source: str = "",
    events_source: str = EVENTS_FILE,
    missing_text: str | None = None,
    missing_source: str = MISSING_FILE,
    translations: Mapping[str, str] | None = None,
) -> DataDictionary:
    """Load a dictionary from CSV text (handy for small inline fixtures); ``translations``
    maps a language to the text of its translation CSV."""
    read = read_file(text, source)
    rows, errors, warnings = read.rows, read.errors, read.warnings
    fields: list[Field] = []
    for row in rows:
        built, row_errors, row_warnings = build_field(row, source)
        errors += row_errors
        warnings += row_warnings
        if built is not None:
            fields.append(built)
    names = _check_names(rows, errors, source)
    _check_forms(fields, errors, source)
    mapping = EventMapping()
    if events_text is not None:
        mapping, event_problems = parse_events(
            events_text, forms=[redcap_name_of(row.cells[c.FORM].strip()) for row in rows],
            source=events_source)
        errors += event_problems
    _check_references(fields, names, mapping, errors, warnings, source)
    fields = [_check_tags(f, names, warnings, source) for f in fields]
    codes: dict[str, str] = {}
    if missing_text is not None:
        codes, missing_problems = parse_missing_codes(missing_text, missing_source)
        errors += missing_problems
    if errors:
        raise DictionaryError(sorted(errors, key=lambda p: (p.source != source, p.row)))
    dictionary = DataDictionary(fields, events=mapping, warnings=warnings, source=source,
                                header_text=read.header_text, trailer=read.trailer,
                                missing_codes=codes)
    for lang, translated in (translations or {}).items():
        dictionary.translations[lang] = read_translations_text(translated, lang)
    return dictionary


def redcap_name_of(text: str) -> str:
    """The name a line's field or form gets (REDCap's renaming when the text needs it)."""
    if not text or c.NAME_PATTERN.match(text):
        return text
    fixed = redcap_name(text)
    return fixed if c.NAME_PATTERN.match(fixed) else text


def _check_names(
    rows: list[RawRow], errors: list[DictionaryProblem], source: str
) -> dict[str, str]:
    """Name -> field type for every named line (even lines with other errors)."""
    seen: dict[str, int] = {}
    types: dict[str, str] = {}
    for row in rows:
        name = redcap_name_of(row.cells[c.VARIABLE].strip())
        if not name:
            continue
        if name in seen:
            errors.append(DictionaryProblem(
                row.line, c.VARIABLE, "duplicate_name",
                _("variable '{name}' is already defined on line {line}; names must be "
                  "unique.").format(name=name, line=seen[name]), source))
            continue
        seen[name] = row.line
        types[name] = row.cells[c.FIELD_TYPE].strip().lower()
    return types


def _check_forms(fields: list[Field], errors: list[DictionaryProblem], source: str) -> None:
    finished: set[str] = set()
    current = ""
    for f in fields:
        if f.form != current:
            if f.form in finished:
                errors.append(DictionaryProblem(
                    f.row, c.FORM, "form_split",
                    _("the fields of form '{form}' must be on consecutive lines; this one "
                      "comes after form '{previous}'.").format(form=f.form, previous=current),
                    source))
            if current:
                finished.add(current)
            current = f.form


def _check_references(
    fields: list[Field],
    types: dict[str, str],
    mapping: EventMapping,
    errors: list[DictionaryProblem],
    warnings: list[DictionaryProblem],
    source: str,
) -> None:
    by_name = {f.name: f for f in fields}
    for f in fields:
        for bound, column in zip(f.bounds, (c.MIN, c.MAX), strict=True):
            if isinstance(bound, FieldBound) and bound.name not in types:
                errors.append(DictionaryProblem(
                    f.row, column, "unknown_reference",
                    _("the {column} names [{name}], which is not a variable of this "
                      "dictionary.").format(column=column, name=bound.name), source))
        for node, column, what in ((f.branching_node, c.BRANCHING, "branching logic"),
                                   (f.calc_node, c.CHOICES, "calculation")):
            if node is None:
                continue
            for ref in node.references():
                if ref.name not in types:
                    errors.append(DictionaryProblem(
                        f.row, column, "unknown_reference",
                        _("{what} names [{name}], which is not a variable of this "
                          "dictionary.").format(what=the_part(what), name=ref.name), source))
                    continue
                if ref.code:
                    target = by_name.get(ref.name)
                    if types[ref.name] != "checkbox":
                        errors.append(DictionaryProblem(
                            f.row, column, "bad_checkbox_reference",
                            _("[{name}({code})] is only for checkbox fields; '{name}' is a "
                              "{type} field — write [{name}] = '{code}'.").format(
                                  name=ref.name, code=ref.code, type=types[ref.name]),
                            source))
                    elif target is not None and ref.code not in target.choices:
                        errors.append(DictionaryProblem(
                            f.row, column, "bad_checkbox_reference",
                            _("'{name}' has no choice '{code}'.").format(
                                name=ref.name, code=ref.code), source))
                if ref.event:
                    _check_event(f, ref.name, ref.event, column, what, by_name, mapping,
                                 errors, warnings, source)


def _check_tags(f: Field, types: dict[str, str], warnings: list[DictionaryProblem],
                source: str) -> Field:
    """An action tag whose logic names a variable that does not exist is kept, not acted
    on (REDCap would evaluate it as blank); the field is returned with that tag marked."""
    def unknown(node: Node) -> list[str]:
        return sorted({r.name for r in node.references() if r.name not in types})

    def mark(tags: Annotation) -> Annotation:
        marked = []
        for tag in tags.tags:
            missing = unknown(tag.node) if tag.node is not None else []
            if missing and not tag.problem:
                names = ", ".join(f"[{m}]" for m in missing)
                tag = replace(tag, problem=_("its logic names {names}, not a variable of "
                                             "this dictionary").format(names=names))
                warnings.append(DictionaryProblem(
                    f.row, c.ANNOTATION, "action_tags",
                    _("action tag {tag} is kept, not acted on: {problem}.").format(
                        tag=tag.name, problem=tag.problem), source))
            marked.append(tag)
        conditionals = []
        for cond in tags.conditionals:
            missing = unknown(cond.node) if cond.node is not None else []
            if missing and not cond.problem:
                names = ", ".join(f"[{m}]" for m in missing)
                cond = replace(cond, node=None, problem=_(
                    "its condition names {names}, not a variable of this dictionary").format(
                        names=names))
                warnings.append(DictionaryProblem(
                    f.row, c.ANNOTATION, "action_tags",
                    _("@IF is kept, not acted on: {problem}; its second set of tags "
                      "applies.").format(problem=cond.problem), source))
            conditionals.append(replace(cond, then=mark(cond.then),
                                        otherwise=mark(cond.otherwise)))
        return Annotation(tuple(marked), tuple(conditionals))

    if not f.tags:
        return f
    return replace(f, tags=mark(f.tags))


def _check_event(
    f: Field,
    name: str,
    event: str,
    column: str,
    what: str,
    by_name: dict[str, Field],
    mapping: EventMapping,
    errors: list[DictionaryProblem],
    warnings: list[DictionaryProblem],
    source: str,
) -> None:
    """An event-prefixed reference ``[event][field]``.

    REDCap lets an expression read any field at any event, so a field whose form is not
    filled at that event is only a warning (the value will always be blank there, which is
    usually a slip); an event that does not exist at all is an error.
    """
    if event in EVENT_PREFIXES:
        return
    if not mapping.events:
        warnings.append(DictionaryProblem(
            f.row, column, "unknown_event",
            _("event '{event}' cannot be checked: no event mapping was loaded.").format(
                event=event), source))
        return
    if event not in mapping.events:
        errors.append(DictionaryProblem(
            f.row, column, "unknown_event",
            _("{what} names event '{event}', which is not declared in the event mapping "
              "(events: {events}).").format(what=the_part(what), event=event,
                                            events=", ".join(mapping.events)), source))
        return
    target = by_name.get(name)
    designated = mapping.designations[event]
    if target is not None and designated and target.form not in designated:
        where = ", ".join(mapping.events_for(target.form)) or _("no event")
        warnings.append(DictionaryProblem(
            f.row, column, "field_not_in_event",
            _("{what} reads [{event}][{name}], but form '{form}' is not filled at {event} "
              "(it is filled at {where}), so the value will always be blank; check the event "
              "name.").format(what=the_part(what), event=event, name=name, form=target.form,
                              where=where), source))


def installed_dirs() -> list[Path]:
    """Where ``pip install`` puts the wheel's data files: the environment's prefix, or the
    user's base for ``pip install --user``."""
    schemes = [sysconfig.get_default_scheme(), f"{os.name}_user"]
    return [Path(sysconfig.get_path("data", scheme)) / "share" / "outsider-cohort"
            for scheme in schemes if scheme in sysconfig.get_scheme_names()]


def dictionary_paths() -> tuple[Path, Path]:
    """Where the study's dictionary lives: ``COHORT_DICTIONARY``, else the repository root
    (a checkout or editable install), else the copy a regular ``pip install`` puts under
    ``<prefix>/share/outsider-cohort``."""
    configured = os.environ.get("COHORT_DICTIONARY")
    if configured:
        path = Path(configured)
        return path, path.parent / EVENTS_FILE
    root = Path(__file__).resolve().parents[1]
    if not (root / DICTIONARY_FILE).is_file():
        root = next((d for d in installed_dirs() if (d / DICTIONARY_FILE).is_file()), root)
    return root / DICTIONARY_FILE, root / EVENTS_FILE


@cache
def default_dictionary() -> DataDictionary:
    """The project's own dictionary and event mapping, loaded once."""
    path, events = dictionary_paths()
    return load_dictionary(path, events=events if events.is_file() else None)
