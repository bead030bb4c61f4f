"""The checked data dictionary: fields, forms, events, and everything derived from them.

A ``DataDictionary`` only exists once every line passed its checks (``forms.loader``); its
methods are what the rest of the project uses: validation of answer sets, calc fields,
codebooks, export labels and REDCap-style checkbox columns.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from forms import codebook, tagchecks, writer
from forms.actiontags import TagReport
from forms.constants import CHECKBOX_SEPARATOR, COLUMNS
from forms.errors import DictionaryProblem
from forms.evaluate import Compiled
from forms.events import EventMapping
from forms.expressions import Node
from forms.fields import Field
from forms.functions import Env
from forms.i18n import _
from forms.schedule import Schedule
from forms.translations import DictionaryTranslations, Key
from forms.validation import (
    FieldPlan,
    FieldProblem,
    Outcome,
    ValidationResult,
    _blank,
    _crossed_bound,
    _truth,
    compute_into,
    run,
)
from forms.values import BadValue

ACRONYMS = frozenset({"aerli", "hiv", "hcv", "oat", "id"})


def humanise(name: str) -> str:
    """``follow_up_status`` -> ``Follow up status``; known acronyms in capitals."""
    words = [w.upper() if w in ACRONYMS else w for w in name.split("_") if w]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


@dataclass
class FormDefinition:
    name: str
    label: str
    fields: list[Field] = field(default_factory=list)


def _missing(value: object) -> bool:
    """Blank, None, NaN or pandas' NA/NaT (without importing pandas)."""
    if value is None:
        return True
    if isinstance(value, float):
        return value != value
    if type(value).__name__ in ("NAType", "NaTType"):
        return True
    if isinstance(value, str):
        return not value.strip()
    return False


#: Functions whose result depends on their arguments alone (not on the day, the
#: missing-data codes or anything else an ``Env`` carries).
_PURE_FUNCTIONS = frozenset({
    "if", "sum", "min", "max", "mean", "median", "stdev", "round", "roundup", "rounddown",
    "abs", "sqrt", "exponential", "log", "mod", "calctext", "isnumber", "isinteger",
    "contains", "not_contain", "starts_with", "ends_with", "find", "left", "right", "mid",
    "length", "concat", "concat_ws", "replace_text", "upper", "lower", "trim"})
_PURE_OPS = frozenset({"literal", "and", "or", "not", "neg", "=", "==", "<>", "!=", "<",
                       "<=", ">", ">=", "+", "-", "*", "/", "^"})
#: Answer sets remembered per expression (``_Remembered``); beyond, evaluated each time.
REMEMBERED = 4096


def _reads_only(node: Node) -> tuple[str, ...] | None:
    """The answers of this event an expression reads, when its value depends on those
    alone; None when it reads anything else (another event, an instance, a smart
    variable, the day, the missing-data codes)."""
    keys: list[str] = []
    for n in node.walk():
        if n.op == "var":
            if n.event or n.instance:
                return None
            keys.append(n.name)
            if n.code:
                keys.append(f"{n.name}{CHECKBOX_SEPARATOR}{n.code}")
        elif n.op == "call":
            if n.name not in _PURE_FUNCTIONS:
                return None
        elif n.op not in _PURE_OPS:
            return None
    return tuple(dict.fromkeys(keys))


def _key_part(value: object) -> Hashable:
    if isinstance(value, list | tuple):
        return type(value), tuple((type(v), v) for v in value)
    return type(value), value


class _Remembered:
    """A compiled expression that reads only some answers of this event (``_reads_only``),
    remembering its value for each set of those answers: validating many answer sets (an
    import, the demo) evaluates each branching and calculation once per distinct input
    rather than once (or twice) per answer set. Errors are raised again, never kept."""

    __slots__ = ("compiled", "keys", "seen")

    def __init__(self, compiled: Compiled, keys: tuple[str, ...]) -> None:
        self.compiled = compiled
        self.keys = keys
        self.seen: dict[Hashable, Any] = {}

    def __call__(self, env: Env) -> Any:
        read = tuple(map(env.values.get, self.keys))
        # The types too: 1, 1.0 and True are equal keys but not the same answer.
        key: Hashable = (read, tuple(map(type, read)))
        try:
            found = self.seen.get(key, _UNSEEN)
        except TypeError:  # a list (checkbox) read: keyed by its items and their types
            try:
                key = tuple(_key_part(v) for v in read)
                found = self.seen.get(key, _UNSEEN)
            except TypeError:  # an answer that cannot be a key (a dict): evaluated as is
                return self.compiled(env)
        if found is not _UNSEEN:
            return found
        value = self.compiled(env)
        if len(self.seen) < REMEMBERED:
            self.seen[key] = value
        return value


_UNSEEN = object()


def _remembering(plan: FieldPlan) -> FieldPlan:
    """``plan`` with its branching and calculation remembered where they can be."""
    f = plan.field
    for slot, node in (("branching", f.branching_node), ("calc", f.computed_node)):
        compiled = getattr(plan, slot)
        keys = _reads_only(node) if compiled is not None and node is not None else None
        if keys is not None:
            setattr(plan, slot, _Remembered(compiled, keys))
    return plan


class _FormsCheck:
    """``validation.run`` for answer sets with nothing to report, with what it looks up
    per field (reader, checkbox, branching, tags, bounds, required) taken out once for a
    set of forms: most answer sets of an import or a demo are valid, and for those this is
    the same pass, cheaper. ``outcome`` gives up (None) at the first thing ``run`` would
    report, and the caller runs ``run`` for its words; ``clean`` and ``shown`` are then
    exactly ``run``'s."""

    def __init__(self, plans: Sequence[FieldPlan], missing: frozenset[str]) -> None:
        self.plans = plans
        names = {p.name for p in plans}
        self.known = set(names)
        for p in plans:
            if p.field.is_checkbox:
                codes = [*p.field.choices, *missing, *(m.lower() for m in missing)]
                self.known.update(key for key in (f"{p.name}{CHECKBOX_SEPARATOR}{code}"
                                                  for code in codes)
                                  if key.partition(CHECKBOX_SEPARATOR)[0] == p.name)
        self.inputs = [(p, p.name, p.field.is_checkbox, _reads_remembered(p)) for p in plans
                       if p.calc is None and p.field.field_type != "descriptive"]
        self.calcs = [p for p in plans if p.calc is not None]
        # Every field is shown unless its branching hides it; only the fields with
        # something to check (branching, action tags, bounds, required) are looked at.
        self.names = frozenset(names)
        self.views = [(p, p.name, p.branching, bool(p.field.tags),
                       bool(p.field.field_bounds), p.field.required and p.shown_as)
                      for p in plans if p.branching is not None or p.field.tags
                      or p.field.field_bounds or (p.field.required and p.shown_as)]

    def outcome(self, answers: Mapping[str, object], *, event: str | None,
                other_events: Mapping[str, Mapping[str, object]] | None,
                today: date | None, missing: frozenset[str], schedule: Schedule,
                record: Mapping[str, object] | None, labels: Mapping[str, str]
                ) -> Outcome | None:
        known = self.known
        if any(key not in known for key in answers):
            return None
        today = today or date.today()
        clean: dict[str, object] = {}
        given: set[str] = set()
        for plan, name, checkbox, seen in self.inputs:
            raw = answers.get(name)
            key: Hashable = None
            if seen is not None and raw is not None:
                key = (raw, type(raw), today)
                try:
                    found = seen.get(key, _UNSEEN)
                except TypeError:  # a list or dict: read each time
                    found, key = _UNSEEN, None
                if found is not _UNSEEN:
                    given.add(name)
                    clean[name] = found
                    continue
            try:
                if raw is None and checkbox:
                    raw = plan.checkbox_from_columns(answers)
                if _blank(raw):
                    continue
                given.add(name)
                clean[name] = value = plan.read(raw, today)
            except BadValue:
                return None
            if key is not None and seen is not None and len(seen) < REMEMBERED:
                seen[key] = value
        env = Env(clean, others=other_events, event=event, today=today, missing=missing,
                  schedule=schedule)
        compute_into(self.calcs, env, clean)
        shown = set(self.names)
        for plan, name, branching, tags, bounds, required in self.views:
            if branching is not None and not _truth(branching, env):
                if name in given:
                    return None
                clean.pop(name, None)
                shown.discard(name)
                continue
            if name in clean:
                if tags and tagchecks.check(plan.field, clean[name], env) is not None:
                    return None
                if bounds and _crossed_bound(plan, clean, record or {}, labels) is not None:
                    return None
            elif required:
                return None
        compute_into(self.calcs, env, clean, shown)
        return Outcome(clean, [], shown)


def _reads_remembered(plan: FieldPlan) -> dict[Hashable, object] | None:
    """Where a field's readings are kept (value, its type and the day -> the clean value),
    or None: a checkbox (its answer is a list), or a range ending ``now``, which moves.
    Every other reader gives the same clean value for the same value on the same day."""
    f = plan.field
    if f.is_checkbox or any(str(bound).strip().lower() == "now"
                            for bound in (f.min, f.max) if bound):
        return None
    return {}


#: Whether ``validate`` tries ``_FormsCheck`` first (tests compare it with ``run`` alone).
CHECK_FAST = True


def _answered_share(plans: Sequence[FieldPlan], outcome: Outcome) -> float:
    counted = [p.name for p in plans if p.name in outcome.shown and p.shown_as
               and p.field.field_type != "file"]
    if not counted:
        return 1.0
    return sum(1 for name in counted if name in outcome.clean) / len(counted)


class DataDictionary:
    """A loaded, checked dictionary; build it with ``load_dictionary(_text)``."""

    def __init__(
        self,
        fields: Sequence[Field],
        *,
        events: EventMapping | None = None,
        warnings: Sequence[DictionaryProblem] = (),
        source: str = "",
        header_text: str = "",
        trailer: str = "",
        missing_codes: Mapping[str, str] | None = None,
    ) -> None:
        self.fields: dict[str, Field] = {f.name: f for f in fields}
        #: The language of the texts (labels, choices, notes): "en" as loaded; a copy made
        #: by ``in_language`` has its own. Names, codes and logic are never translated.
        self.lang = "en"
        #: The translations found for this dictionary, by language (forms.translations).
        self.translations: dict[str, DictionaryTranslations] = {}
        self._in_language: dict[str, DataDictionary] = {}
        #: The project's missing-data codes, code -> label (``forms.missing``).
        self.missing_codes: dict[str, str] = dict(missing_codes or {})
        self._missing = frozenset(self.missing_codes)
        self.forms: dict[str, FormDefinition] = {}
        for f in fields:
            form = self.forms.setdefault(f.form, FormDefinition(f.form, humanise(f.form)))
            form.fields.append(f)
        self.events = events or EventMapping()
        self.warnings: list[DictionaryProblem] = list(warnings)
        self.source = source
        self._header_text = header_text
        self._trailer = trailer
        self.schedule = Schedule(
            tuple(self.events.events), dict(self.events.arms),
            {e: frozenset(forms) for e, forms in self.events.designations.items()},
            {f.name: f.form for f in fields})
        self._plans = {f.name: _remembering(FieldPlan(f, self._missing)) for f in fields}
        self._form_plans = {name: [self._plans[f.name] for f in form.fields]
                            for name, form in self.forms.items()}
        self._calcs = [p for p in self._plans.values() if p.calc is not None]
        self._checks: dict[tuple[str, ...], _FormsCheck] = {}
        self._bound_labels = {b.name: self.fields[b.name].plain_label for f in fields
                              for b in f.field_bounds if b.name in self.fields}
        self._reads_others = any(
            (n.op == "var" and n.event) or (n.op == "smart" and "event" in n.name)
            for f in fields for node in (f.branching_node, f.computed_node)
            if node is not None for n in node.walk())

    def in_language(self, lang: str) -> DataDictionary:
        """This dictionary with its texts in ``lang`` (English where not translated, and
        this very dictionary when there is nothing to translate). Kept once made."""
        if lang == self.lang or lang not in self.translations:
            return self
        copy = self._in_language.get(lang)
        if copy is None:
            copy = self._in_language[lang] = self._translated(self.translations[lang])
        return copy

    def _translated(self, translations: DictionaryTranslations) -> DataDictionary:
        """A copy whose texts are in the translations' language. Names, codes, types,
        validation and logic are the same objects, so values read and checked in one
        language are valid in the other."""
        t = translations.text
        fields = [replace(
            f,
            label=t("label", f.name) or f.label,
            note=(t("note", f.name) or f.note) if f.note else "",
            section_header=(t("section_header", f.name) or f.section_header
                            if f.section_header else ""),
            choices={code: t("choice", f.name, code) or label
                     for code, label in f.choices.items()}) for f in self.fields.values()]
        copy = DataDictionary(fields, events=self.events, warnings=self.warnings,
                              source=self.source, missing_codes=self.missing_codes)
        for name, form in copy.forms.items():
            form.label = t("form", name) or self.forms[name].label
        copy.lang = translations.lang
        copy.translations = self.translations
        return copy

    def texts(self) -> Iterator[tuple[Key, str]]:
        """Every text of the questionnaire a person reads, keyed as translations are
        (part, name, code), in dictionary order."""
        for form in self.forms.values():
            yield ("form", form.name, ""), form.label
            for f in form.fields:
                if f.section_header:
                    yield ("section_header", f.name, ""), f.section_header
                yield ("label", f.name, ""), f.label
                for code, label in f.choices.items():
                    yield ("choice", f.name, code), label
                if f.note:
                    yield ("note", f.name, ""), f.note

    def __repr__(self) -> str:
        return (f"DataDictionary({len(self.fields)} fields, {len(self.forms)} forms, "
                f"{len(self.events.events)} events)")

    def env(self, values: Mapping[str, object], **kwargs: Any) -> Env:
        """An ``Env`` for this dictionary's expressions: its missing-data codes and event
        schedule, plus whatever the caller knows (event, other events, context…)."""
        return Env(values, missing=self._missing, schedule=self.schedule, **kwargs)

    @property
    def bounds_read_record(self) -> bool:
        """Whether some Min/Max names another field (``[age]``): only then do the services
        pass the record's other answers (``validate(record=...)``)."""
        return bool(self._bound_labels)

    @property
    def reads_other_events(self) -> bool:
        """Whether any logic reads another event's answers (``[m0_arm_1][x]``,
        ``[previous-event-name][x]``, ``[previous-event-name]``…): only then do the services
        fetch a participant's other visits to validate one."""
        return self._reads_others

    def is_missing_code(self, value: object) -> bool:
        return isinstance(value, str) and value in self._missing

    def action_tags(self) -> TagReport:
        """Every action tag the dictionary uses: acted on, or kept (and why), by field."""
        report = TagReport()
        for f in self.fields.values():
            for tag in f.tags.every():
                report.add(f.name, tag)
        return report

    def field(self, name: str) -> Field:
        try:
            return self.fields[name]
        except KeyError:
            raise KeyError(f"no field {name!r} in the data dictionary") from None

    def form(self, name: str) -> FormDefinition:
        try:
            return self.forms[name]
        except KeyError:
            raise KeyError(f"no form {name!r} in the data dictionary (forms: "
                           f"{', '.join(self.forms)})") from None

    def forms_for_event(self, event_name: str) -> list[FormDefinition]:
        return [self.forms[name] for name in self.events.forms_for(event_name)]

    def unmapped_forms(self) -> list[FormDefinition]:
        """Forms no event names: filled whenever needed, not at a timepoint."""
        mapped = self.events.mapped_forms()
        return [form for name, form in self.forms.items() if name not in mapped]

    def identifier_fields(self) -> set[str]:
        return {name for name, f in self.fields.items() if f.identifier}

    def _names(self, form_names: str | Sequence[str]) -> list[str]:
        names = [form_names] if isinstance(form_names, str) else list(form_names)
        for name in names:
            self.form(name)
        return names

    def validate(
        self,
        form_names: str | Sequence[str],
        answers: Mapping[str, object],
        *,
        event: str | None = None,
        other_events: Mapping[str, Mapping[str, object]] | None = None,
        today: date | None = None,
        record: Mapping[str, object] | None = None,
    ) -> ValidationResult:
        """Check one answer set for these forms; see ``ValidationResult`` for ``clean``.
        ``record``: the record's answers on other forms of this event, for bounds that
        name one of them (``[age]``, given at enrolment, bounds an M0 answer)."""
        names = self._names(form_names)
        key = tuple(names)
        fast = self._checks.get(key)
        if fast is None:
            fast = self._checks[key] = _FormsCheck(
                [plan for name in names for plan in self._form_plans[name]], self._missing)
        plans = fast.plans
        outcome = fast.outcome(
            answers, event=event, other_events=other_events, today=today,
            missing=self._missing, schedule=self.schedule, record=record,
            labels=self._bound_labels) if CHECK_FAST else None
        if outcome is None:
            forms = [_("the form '{label}'").format(label=self.forms[n].label) for n in names]
            label = forms[0] if forms else None
            for more in forms[1:]:
                label = _("{first} and {last}").format(first=label, last=more)
            outcome = run(plans, answers, event=event, other_events=other_events,
                          today=today, form_label=label, missing=self._missing,
                          schedule=self.schedule, record=record, labels=self._bound_labels)
        problems = outcome.problems
        if event is not None and self.events:
            allowed = set(self.events.forms_for(event)) if event in self.events.designations \
                else set()
            for name in names:
                if name in allowed or name not in self.events.mapped_forms():
                    continue
                problems.append(FieldProblem(
                    name, self.forms[name].label, "form_not_in_event",
                    _("The form '{label}' is not filled at {event}.").format(
                        label=self.forms[name].label, event=event)))
        return ValidationResult(ok=not problems, problems=problems, clean=outcome.clean,
                                completeness=_answered_share(plans, outcome))

    def completeness(
        self,
        form_names: str | Sequence[str],
        answers: Mapping[str, object],
        *,
        event: str | None = None,
        other_events: Mapping[str, Mapping[str, object]] | None = None,
    ) -> float:
        """Share of the questions shown (not calc, descriptive or file) that have an answer."""
        names = self._names(form_names)
        plans = [plan for name in names for plan in self._form_plans[name]]
        outcome = run(plans, answers, event=event, other_events=other_events,
                      check_unknown=False, missing=self._missing, schedule=self.schedule)
        return _answered_share(plans, outcome)

    def compute_calcs(
        self,
        answers: Mapping[str, object],
        *,
        event: str | None = None,
        other_events: Mapping[str, Mapping[str, object]] | None = None,
        today: date | None = None,
    ) -> dict[str, object]:
        """Every calc field of the dictionary from these answers (blank results left out)."""
        outcome = run([p for p in self._plans.values() if p.calc is None], answers,
                      event=event, other_events=other_events, today=today,
                      check_unknown=False, missing=self._missing, schedule=self.schedule)
        values = dict(outcome.clean)
        compute_into(self._calcs, self.env(values, others=other_events, event=event,
                                           today=today), values)
        return {p.name: values[p.name] for p in self._calcs if p.name in values}

    def compute_calcs_rows(
        self, rows: Iterable[Mapping[str, object]]
    ) -> list[dict[str, object]]:
        """The calc fields of many answer sets at once (e.g. ``df.to_dict("records")``).

        Only the fields the calculations read are normalised, so this is much cheaper per
        row than ``compute_calcs``; missing values (None, NaN, pandas' NA) and values that
        cannot be read count as blank, and a blank result is left out of the row's dict
        (so ``pd.DataFrame(result, index=df.index)`` has NaN there, never a made-up 0).
        Event-prefixed references see blanks: this is for one answer set per row.
        """
        calcs = self._calcs
        names = {name for p in calcs for name in p.references_all}
        inputs = [self._plans[n] for n in names if n in self._plans
                  and self._plans[n].calc is None]
        today = date.today()
        out: list[dict[str, object]] = []
        for row in rows:
            values: dict[str, object] = {}
            for plan in inputs:
                raw = row.get(plan.name)
                if raw is None and plan.field.is_checkbox:
                    try:
                        raw = plan.checkbox_from_columns(row)
                    except ValueError:
                        continue
                if _missing(raw):
                    continue
                try:
                    values[plan.name] = plan.read(raw, today)
                except ValueError:
                    continue
            compute_into(calcs, self.env(values, today=today), values)
            out.append({p.name: values[p.name] for p in calcs if p.name in values})
        return out

    def expand_checkboxes(self, record: Mapping[str, object]) -> dict[str, object]:
        """``products=['1','5']`` -> ``products___1=1, products___2=0, …`` (REDCap export)."""
        out: dict[str, object] = {}
        for key, value in record.items():
            f = self.fields.get(key)
            if f is None or not f.is_checkbox:
                out[key] = value
                continue
            plan = self._plans[key]
            try:
                chosen = [] if value is None or value == "" else plan.read(value, date.today())
            except ValueError:
                chosen = []
            if isinstance(chosen, str) and chosen in self._missing:
                # A missing-data code is exported as written, in each choice's column.
                out.update({f"{key}{CHECKBOX_SEPARATOR}{code}": chosen for code in f.choices})
                continue
            ticked = set(chosen) if isinstance(chosen, list) else set()
            for code in f.choices:
                out[f"{key}{CHECKBOX_SEPARATOR}{code}"] = 1 if code in ticked else 0
        return out

    def value_labels(self, field_name: str) -> dict[str, str]:
        """Code -> label for a choice field, or Checked/Unchecked for ``field___code``."""
        if field_name not in self.fields:
            base, sep, code = field_name.partition(CHECKBOX_SEPARATOR)
            f = self.fields.get(base)
            if sep and f is not None and f.is_checkbox and code in f.choices:
                return {"1": "Checked", "0": "Unchecked"}
        return dict(self.field(field_name).choices)

    def to_csv(self) -> str:
        """The dictionary in REDCap's format. A dictionary read from a file comes back byte
        for byte: every line whose field was not edited is written exactly as it was read."""
        return writer.to_csv(self.fields.values(), header_text=self._header_text,
                             trailer=self._trailer)

    def to_redcap_csv(self, record_id: str = "record_id") -> str:
        """The dictionary ready to upload into REDCap, which takes its first field as the
        record identifier: a ``record_id`` text field (the study code) is put first, on the
        first form, unless the dictionary already starts with it. Every other row is as in
        ``to_csv``."""
        lines = self.to_csv().splitlines(keepends=True)
        first = next(iter(self.fields.values()), None)
        if first is None or first.name == record_id:
            return "".join(lines)
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerow(
            [record_id, first.form, "", "text", "Study code", "", "Assigned by the system "
             "at enrolment (for example C04-0123-K)."] + [""] * (len(COLUMNS) - 7))
        return lines[0] + out.getvalue() + "".join(lines[1:])

    def codebook_rows(self) -> list[dict[str, Any]]:
        return codebook.rows(list(self.fields.values()), self.events)

    def codebook_csv(self) -> str:
        return codebook.to_csv(self.codebook_rows())

    def codebook_markdown(self) -> str:
        return codebook.to_markdown(self.codebook_rows(), self.forms, self.events)

    def codebook_html(self) -> str:
        return codebook.to_html(self.codebook_rows(), self.forms, self.events)
