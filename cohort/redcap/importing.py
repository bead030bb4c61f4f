"""``content=record`` imports: REDCap flat rows (CSV or JSON) written as ``cohort import``
writes a REDCap export, through the same services and rules, all or nothing.

What REDCap's parameters mean here:

* ``overwriteBehavior=normal``: a blank value leaves what is stored; ``overwrite``: a blank
  value in a column that is sent erases the stored answer (columns not sent are kept). A
  questionnaire already stored is merged with the row, then corrected through
  ``update_questionnaire`` (audited answer by answer; the same answers count unchanged).
* a record id is a study code, or a REDCap record moved over earlier (``ExternalRecord``);
  any other record id is a new participant, enrolled from its M0 row and linked, as
  ``cohort import`` does. ``forceAutoNumber``: every record sent is a new participant.
* ``dateFormat`` ``DMY``/``MDY`` dates are read as such.
* hard rules refuse the whole request, each refusal naming the record, event and field;
  soft rules save and flag (the deviations are returned to the caller).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlmodel import Session, col, select

from cohort.dictionary import get_dictionary
from cohort.errors import CohortError
from cohort.excel.importer import import_sheet
from cohort.excel.reader import Problem
from cohort.excel.records import SOURCE
from cohort.excel.redcap import read_records
from cohort.models import ExternalRecord, Participant, Questionnaire
from cohort.redcap import BadParameter
from cohort.redcap.project import EVENT, RECORD_ID, REPEAT_INSTANCE, REPEAT_INSTRUMENT
from cohort.schedule import get_schedule
from cohort.services.context import Actor, require_role
from cohort.services.questionnaires import questionnaire_forms
from cohort.vocab import Timepoint
from forms.constants import CHECKBOX_SEPARATOR

DATE_FORMATS = {"YMD": "%Y-%m-%d", "DMY": "%d-%m-%Y", "MDY": "%m-%d-%Y"}
MAX_ROWS = 100_000


class ImportRefused(BadParameter):
    """At least one row was refused: nothing of the request was written."""

    def __init__(self, problems: list[str]) -> None:
        count = len(problems)
        super().__init__(f"{count} problem{'s' if count != 1 else ''}, nothing was saved: "
                         + " | ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class ImportRequest:
    data: str
    format: str = "csv"
    overwrite: bool = False
    date_format: str = "YMD"
    force_auto_number: bool = False


@dataclass
class ImportOutcome:
    """What REDCap returns (count, ids) and what the study adds (deviations raised)."""

    ids: list[str]
    auto_ids: list[str]
    written: int = 0
    unchanged: int = 0
    deviations: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.ids)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float | str):
        return str(value)
    raise BadParameter(f"The value {json.dumps(value)[:60]} is not a single value; send each "
                       "field as text or a number.")


def parse_rows(data: str, fmt: str) -> list[dict[str, str]]:
    """The rows sent, as column -> text; ``record_id`` is required."""
    rows: list[dict[str, str]]
    if fmt == "json":
        try:
            loaded = json.loads(data)
        except ValueError as error:
            raise BadParameter(f"The data is not valid JSON: {error}.") from None
        if not isinstance(loaded, list) or not all(isinstance(r, dict) for r in loaded):
            raise BadParameter("The data must be a JSON array of objects, one per row.")
        rows = [{str(k).strip().lower(): _cell(v) for k, v in r.items()} for r in loaded]
    elif fmt == "csv":
        reader = csv.reader(io.StringIO(data.removeprefix("\ufeff")))
        lines = [line for line in reader if any(cell.strip() for cell in line)]
        if not lines:
            raise BadParameter("The data is empty: send a header line and one line per row.")
        header = [h.strip().lower() for h in lines[0]]
        twice = sorted({h for h in header if header.count(h) > 1})
        if twice:
            raise BadParameter(f"The data names these columns twice: {', '.join(twice)}.")
        rows = [dict(zip(header, line, strict=False)) for line in lines[1:]]
    else:
        raise BadParameter(f"Records are imported as csv or json; '{fmt}' is not offered here.")
    if len(rows) > MAX_ROWS:
        raise BadParameter(f"{len(rows)} rows in one request; send at most {MAX_ROWS} rows "
                           "at a time.")
    missing = [n for n, row in enumerate(rows, start=1) if not row.get(RECORD_ID, "").strip()]
    if missing:
        raise BadParameter(f"Row {missing[0]} has no '{RECORD_ID}': every row needs the "
                           "record it belongs to.")
    return rows


def _dates(rows: list[dict[str, str]], date_format: str) -> None:
    """Read DMY/MDY dates (``/`` or ``-``) into the stored ISO form, in place."""
    if date_format == "YMD":
        return
    pattern = DATE_FORMATS.get(date_format)
    if pattern is None:
        raise BadParameter("The parameter \"dateFormat\" must be YMD, DMY or MDY.")
    names = [f.name for f in get_dictionary().fields.values() if f.kind == "date"]
    for number, row in enumerate(rows, start=1):
        for name in names:
            text = row.get(name, "").strip().replace("/", "-")
            if not text:
                continue
            try:
                row[name] = datetime.strptime(text, pattern).date().isoformat()
            except ValueError:
                raise BadParameter(
                    f"Row {number}, record {row[RECORD_ID]}, field '{name}': '{row[name]}' is "
                    f"not a date in the {date_format} format.") from None


@dataclass(frozen=True)
class _Stored:
    code: str
    answers: dict[tuple[str, Timepoint], Questionnaire]


def _known(session: Session, actor: Actor, records: Sequence[str]) -> dict[str, _Stored]:
    """Record id -> the visible participant it is and their questionnaires."""
    wanted = sorted({r.strip().upper() for r in records})
    codes: dict[str, str] = {}
    for start in range(0, len(wanted), 900):
        chunk = wanted[start:start + 900]
        for external, code, centre in session.exec(
                select(ExternalRecord.external_id, Participant.code, Participant.centre_id)
                .join(Participant, col(Participant.id) == col(ExternalRecord.participant_id))
                .where(ExternalRecord.source == SOURCE,
                       col(ExternalRecord.external_id).in_(chunk))):
            if actor.can_see(centre):
                codes[external] = code
        for code, centre in session.exec(select(Participant.code, Participant.centre_id)
                                         .where(col(Participant.code).in_(chunk))):
            if actor.can_see(centre):
                codes.setdefault(code, code)
    stored: dict[str, _Stored] = {}
    by_code: dict[str, dict[tuple[str, Timepoint], Questionnaire]] = {}
    found_codes = sorted(set(codes.values()))
    for start in range(0, len(found_codes), 900):
        for q, code in session.exec(
                select(Questionnaire, Participant.code)
                .join(Participant, col(Participant.id) == col(Questionnaire.participant_id))
                .where(col(Participant.code).in_(found_codes[start:start + 900]))):
            by_code.setdefault(code, {})[(code, Timepoint(q.timepoint))] = q
    for record, code in codes.items():
        stored[record] = _Stored(code, by_code.get(code, {}))
    return stored


def _text(value: object) -> str:
    if isinstance(value, date):
        return value.isoformat()
    return _cell(value)


def _merge(row: dict[str, str], stored: Questionnaire, overwrite: bool) -> None:
    """Fill the row with the stored answers it does not change (REDCap's blank rules)."""
    dictionary = get_dictionary()
    answers = dict(stored.answers)
    for form in questionnaire_forms(Timepoint(stored.timepoint)):
        for f in dictionary.form(form).fields:
            if f.is_calc or f.field_type in ("descriptive", "file"):
                continue
            if f.is_checkbox:
                ticked = set(answers.get(f.name) or ())
                for code in f.choices:
                    column = f"{f.name}{CHECKBOX_SEPARATOR}{code}"
                    sent = row.get(column)
                    if sent is not None and (sent.strip() or overwrite):
                        is_ticked = sent.strip() == "1"
                    else:
                        is_ticked = code in ticked
                    row[column] = "1" if is_ticked else "0"
                continue
            sent = row.get(f.name)
            if sent is not None and (sent.strip() or overwrite):
                continue
            row[f.name] = _text(answers[f.name]) if f.name in answers else ""


def _to_csv(rows: list[dict[str, str]]) -> bytes:
    header: list[str] = [RECORD_ID]
    seen = {RECORD_ID}
    for row in rows:
        for name in row:
            if name not in seen:
                seen.add(name)
                header.append(name)
    out = io.StringIO()
    writer = csv.DictWriter(out, header, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def _where(rows: list[dict[str, str]], problem: Problem) -> str:
    """A refusal in words: the record, event (and instance) and field it concerns."""
    column = f"field '{problem.field}'" if problem.field else "the row"
    if problem.row is None or problem.row < 2 or problem.row - 2 >= len(rows):
        return f"{column}: {problem.message} [{problem.rule}]"
    row = rows[problem.row - 2]
    event = row.get(EVENT, "")
    instrument = row.get(REPEAT_INSTRUMENT, "")
    if instrument:
        event += f", {instrument} #{row.get(REPEAT_INSTANCE, '') or '?'}"
    name = "record_id" if problem.field in ("participant_code", "") else problem.field
    return (f"record {row.get(RECORD_ID, '')} ({event}), field '{name}': {problem.message} "
            f"[{problem.rule}]")


def import_records(session: Session, *, actor: Actor, request: ImportRequest,
                   on: date | None = None) -> ImportOutcome:
    """Write the rows, all or nothing; raises ``ImportRefused`` naming every problem."""
    require_role(actor, "write")
    rows = parse_rows(request.data, request.format)
    _dates(rows, request.date_format)
    ids = list(dict.fromkeys(row[RECORD_ID].strip() for row in rows))
    versions: dict[tuple[str, str], int] = {}
    if not request.force_auto_number:
        known = _known(session, actor, ids)
        events = {v.event: Timepoint(v.name) for v in get_schedule()}
        for row in rows:
            found = known.get(row[RECORD_ID].strip().upper())
            tp = events.get(row.get(EVENT, "").strip().lower())
            if found is None or tp is None or row.get(REPEAT_INSTRUMENT, "").strip():
                continue
            stored = found.answers.get((found.code, tp))
            if stored is not None:
                _merge(row, stored, request.overwrite)
                versions[(found.code, tp.value)] = stored.version
    data = _to_csv(rows)
    try:
        sheet = read_records(data, name="the request's data")
    except CohortError as error:
        raise BadParameter(error.message) from None
    sheet.updates = True
    sheet.versions = versions
    sheet.auto_number = request.force_auto_number
    report = import_sheet(session, actor=actor, sheet=sheet, data=data, filename="api",
                          on=on, remember=False)
    if report.problems:
        raise ImportRefused([_where(rows, p) for p in report.problems])
    created = {label.removeprefix("record "): code for label, code in report.created}
    return ImportOutcome(
        ids=ids, auto_ids=[f"{created.get(r.upper(), r)},{r}" for r in ids],
        written=report.written, unchanged=report.unchanged,
        deviations=[_where(rows, p) for p in report.deviations])
