"""Records as REDCap's flat export (``content=record``, ``type=flat``), streamed.

``prepare_export`` checks every parameter first (an unknown field, form, event or record
filter is refused before anything is sent); ``RecordExport.chunks`` then reads participants
a few hundred at a time, in study-code order, and yields CSV or JSON text as it goes, so a
100,000-participant project is answered with the memory of one batch.

Columns are always in metadata order: ``record_id``, ``redcap_event_name``,
``redcap_repeat_instrument``, ``redcap_repeat_instance``, ``redcap_data_access_group``
when asked, then the fields form by form, each form followed by ``<form>_complete``
(``2`` when the row holds the form, ``0``, or blank with ``exportBlankForGrayFormStatus``,
when it could hold it but does not). Statisticians read de-identified data: free-text and
identifier fields are left out of their exports.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from sqlalchemy import func, union
from sqlmodel import Session, col, select

from cohort.dictionary import get_dictionary
from cohort.excel.redcap import ONGOING_FORMS
from cohort.models import (
    AerliSession,
    AuditEntry,
    Centre,
    Participant,
    Questionnaire,
    StatusChange,
)
from cohort.redcap import BadParameter
from cohort.redcap.filtering import RowTest, compile_filter
from cohort.redcap.project import (
    COMPLETE_LABELS,
    DAG,
    PLUMBING,
    RECORD_ID,
    Column,
    check_fields,
    check_forms,
    columns,
    event_label,
)
from cohort.redcap.values import FlatRow, rows_of
from cohort.services.access import record_export, visible_codes
from cohort.services.context import Actor, may
from cohort.services.deid import deidentified, withheld_fields
from cohort.vocab import Channel, ExportKind
from forms.constants import FIXED_CHOICES

#: Participants read per query: bounds memory whatever the size of the project.
CHUNK = 500
_DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d")
PLUMBING_LABELS = {RECORD_ID: "Record ID", "redcap_event_name": "Event Name",
                   "redcap_repeat_instrument": "Repeat Instrument",
                   "redcap_repeat_instance": "Repeat Instance", DAG: "Data Access Group"}


@dataclass(frozen=True)
class RecordQuery:
    """The parameters of one record export, already split into lists and flags."""

    records: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()
    forms: tuple[str, ...] = ()
    events: tuple[str, ...] = ()
    labels: bool = False
    label_headers: bool = False
    checkbox_labels: bool = False
    dags: bool = False
    filter_logic: str = ""
    date_begin: str = ""
    date_end: str = ""
    blank_gray: bool = False
    decimal: str = ""
    delimiter: str = ","
    format: str = "csv"


def parse_when(text: str, name: str) -> datetime | None:
    """REDCap's ``YYYY-MM-DD HH:MM:SS`` (read as UTC, the audit trail's clock)."""
    if not text.strip():
        return None
    for pattern in _DATE_FORMATS:
        try:
            return datetime.strptime(text.strip(), pattern).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise BadParameter(f"The value of the parameter \"{name}\" ('{text}') is not a date and "
                       "time in the format YYYY-MM-DD HH:MM:SS.")


def _number_text(value: object, decimal: str) -> str:
    if isinstance(value, float) and value.is_integer():
        text = str(int(value))
    else:
        text = str(value)
    return text.replace(".", ",") if decimal == "," else text


@dataclass
class RecordExport:
    """A checked export, ready to stream with ``chunks``."""

    session: Session
    actor: Actor
    query: RecordQuery
    data_columns: list[Column]
    test: RowTest | None
    begin: datetime | None
    end: datetime | None
    centres: dict[int, Centre] = field(default_factory=dict)
    hidden: frozenset[str] = frozenset()
    dags: bool = False
    _on: dict[tuple[str, str], frozenset[str]] = field(default_factory=dict)

    @property
    def header(self) -> list[str]:
        names = [RECORD_ID, *PLUMBING] + ([DAG] if self.dags else [])
        return names + [c.name for c in self.data_columns]

    def header_labels(self) -> list[str]:
        labels = [PLUMBING_LABELS[n] for n in [RECORD_ID, *PLUMBING]]
        if self.dags:
            labels.append(PLUMBING_LABELS[DAG])
        for column in self.data_columns:
            f = column.field
            if f is None:
                labels.append("Complete?")
            elif column.choice is not None:
                labels.append(f"{f.plain_label} (choice={f.choices[column.choice]})")
            else:
                labels.append(f.plain_label)
        return labels

    def log(self, *, actor_name: str, client: str | None, purpose: str | None) -> None:
        """One export-log entry for this request, written before any row is read or sent.

        ``rows`` counts the records (participants) the request covers before
        ``filterLogic``, since a streamed export is logged before it is read.
        """
        record_export(self.session, actor=self.actor, actor_name=actor_name,
                      channel=Channel.REDCAP_API, client=client, kind=ExportKind.EXPORT,
                      fmt=self.query.format, shape="flat", rows=self._records_in_scope(),
                      fields=self.header, centre_codes=visible_codes(self.session, self.actor),
                      free_text=not self.hidden, deidentified=bool(self.hidden),
                      purpose=purpose)

    def _records_in_scope(self) -> int:
        base = self._base()
        wanted = self._wanted()
        if wanted is None:
            return int(self.session.exec(
                select(func.count()).select_from(base.subquery())).one())
        return sum(int(self.session.exec(select(func.count()).select_from(
            base.where(col(Participant.code).in_(wanted[start:start + CHUNK])).subquery())
        ).one()) for start in range(0, len(wanted), CHUNK))

    # ------------------------------------------------------------------ rows
    def _base(self) -> Any:
        base = select(Participant)
        if self.actor.centre_ids is not None:
            base = base.where(col(Participant.centre_id).in_(self.actor.centre_ids))
        touched = self._touched()
        if touched is not None:
            base = base.where(col(Participant.id).in_(touched))
        return base

    def _wanted(self) -> list[str] | None:
        if not self.query.records:
            return None
        return sorted({r.strip().upper() for r in self.query.records if r.strip()})

    def _participants(self) -> Iterator[list[Participant]]:
        base = self._base().order_by(col(Participant.code))
        wanted = self._wanted()
        if wanted is not None:
            for start in range(0, len(wanted), CHUNK):
                found = list(self.session.exec(
                    base.where(col(Participant.code).in_(wanted[start:start + CHUNK]))))
                if found:
                    yield found
            return
        last: str | None = None
        while True:
            statement = base if last is None else base.where(col(Participant.code) > last)
            found = list(self.session.exec(statement.limit(CHUNK)))
            if not found:
                return
            yield found
            last = found[-1].code

    def _touched(self) -> Any:
        """Participants with an audited change in [begin, end] (REDCap's date range)."""
        if self.begin is None and self.end is None:
            return None
        a = AuditEntry
        window = []
        if self.begin is not None:
            window.append(col(a.at) >= self.begin)
        if self.end is not None:
            window.append(col(a.at) <= self.end)
        selects: list[Any] = [select(col(a.record_id).label("pid")).where(
            a.table_name == "participant", *window)]
        for model, table in ((Questionnaire, "questionnaire"), (AerliSession, "aerli_session"),
                             (StatusChange, "status_change")):
            selects.append(
                select(col(model.participant_id).label("pid"))
                .join(a, (col(a.record_id) == col(model.id)) & (a.table_name == table))
                .where(*window))
        return union(*selects)

    def _rows(self, people: list[Participant]) -> Iterator[FlatRow]:
        ids = [p.id for p in people]
        answers: dict[int, list[Questionnaire]] = {}
        for q in self.session.exec(select(Questionnaire).where(
                col(Questionnaire.participant_id).in_(ids))):
            answers.setdefault(q.participant_id, []).append(q)
        sessions: dict[int, list[AerliSession]] = {}
        for s in self.session.exec(select(AerliSession).where(
                col(AerliSession.participant_id).in_(ids))):
            sessions.setdefault(s.participant_id, []).append(s)
        statuses: dict[int, list[StatusChange]] = {}
        for c in self.session.exec(select(StatusChange).where(
                col(StatusChange.participant_id).in_(ids))):
            statuses.setdefault(c.participant_id, []).append(c)
        events = set(self.query.events)
        for person in people:
            pid = int(person.id or 0)
            rows = rows_of(person, answers.get(pid, ()), sessions.get(pid, ()),
                           statuses.get(pid, ()), self.hidden)
            others = {r.event: r.values for r in rows if not r.instrument}
            for row in rows:
                if events and row.event not in events:
                    continue
                if not self._holds_wanted(row):
                    continue
                if self.test is not None and not self.test(row, others):
                    continue
                yield row

    def _holds_wanted(self, row: FlatRow) -> bool:
        wanted = self._wanted_forms
        return not wanted or not wanted.isdisjoint(self._forms_on(row))

    @cached_property
    def _wanted_forms(self) -> frozenset[str]:
        return frozenset(c.form for c in self.data_columns)

    def _forms_on(self, row: FlatRow) -> frozenset[str]:
        """The forms the row's event (or repeat instrument) can hold, cached per kind."""
        key = (row.event, row.instrument)
        found = self._on.get(key)
        if found is None:
            if row.instrument:
                found = frozenset({row.instrument})
            else:
                designated = get_dictionary().events.designations.get(row.event, ())
                found = frozenset(f for f in designated if f not in ONGOING_FORMS)
            self._on[key] = found
        return found

    # ------------------------------------------------------------------ cells
    def _cells(self, row: FlatRow) -> list[str | int]:
        labels = self.query.labels
        cells: list[str | int] = [
            row.record,
            event_label(row.event) if labels else row.event,
            (get_dictionary().forms[row.instrument].label if labels else row.instrument)
            if row.instrument else "",
            row.instance if row.instance is not None else "",
        ]
        if self.dags:
            centre = self.centres.get(row.centre_id)
            cells.append("" if centre is None else centre.name if labels
                         else centre.code.lower())
        on = self._forms_on(row)
        cells.extend([encode(row, on) for encode in self._encoders])
        return cells

    @cached_property
    def _encoders(self) -> list[Callable[[FlatRow, frozenset[str]], str]]:
        """One encoder per data column, chosen once (an export calls them millions of
        times)."""
        return [self._encoder(column) for column in self.data_columns]

    def _encoder(self, column: Column) -> Callable[[FlatRow, frozenset[str]], str]:
        q = self.query
        form, f = column.form, column.field
        if f is None:
            done = COMPLETE_LABELS["2"] if q.labels else "2"
            gray = "" if q.blank_gray else COMPLETE_LABELS["0"] if q.labels else "0"
            return lambda row, on: done if form in row.forms else gray if form in on else ""
        name = f.name
        if column.choice is not None:
            choice = column.choice
            yes, no = ("1", "0") if not q.labels else \
                (f.choices[choice], "") if q.checkbox_labels else ("Checked", "Unchecked")
            return lambda row, on: ("" if form not in on
                                    else yes if choice in (row.values.get(name) or ())
                                    else no)
        if q.labels and (f.has_choices or f.field_type in FIXED_CHOICES):
            choices = f.choices

            def label(row: FlatRow, on: frozenset[str]) -> str:
                value = row.values.get(name)
                return "" if value is None or value == "" else choices.get(str(value),
                                                                            str(value))
            return label
        if f.kind in ("number", "integer", "calc", "slider"):
            decimal = q.decimal

            def number(row: FlatRow, on: frozenset[str]) -> str:
                value = row.values.get(name)
                return "" if value is None or value == "" else _number_text(value, decimal)
            return number

        def text(row: FlatRow, on: frozenset[str]) -> str:
            value = row.values.get(name)
            return "" if value is None else str(value)
        return text

    # ------------------------------------------------------------------ output
    def chunks(self) -> Iterator[str]:
        """The export as text pieces, one per batch of participants."""
        self.centres = {int(c.id or 0): c for c in self.session.exec(select(Centre))}
        if self.query.format == "json":
            yield from self._json()
        else:
            yield from self._csv()

    def _csv(self) -> Iterator[str]:
        out = io.StringIO()
        delimiter = "\t" if self.query.delimiter == "tab" else self.query.delimiter
        writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
        writer.writerow(self.header_labels() if self.query.label_headers else self.header)
        for people in self._participants():
            writer.writerows(self._cells(row) for row in self._rows(people))
            yield out.getvalue()
            out.seek(0)
            out.truncate()
        yield out.getvalue()

    def _json(self) -> Iterator[str]:
        names = self.header
        first = True
        yield "["
        for people in self._participants():
            parts = []
            for row in self._rows(people):
                parts.append(json.dumps(dict(zip(names, self._cells(row), strict=True)),
                                        ensure_ascii=False, separators=(",", ":")))
            if parts:
                yield ("" if first else ",") + ",".join(parts)
                first = False
        yield "]"


def select_columns(fields: Sequence[str], forms: Sequence[str],
                   hidden: frozenset[str]) -> list[Column]:
    """The data columns asked for, in metadata order (all when neither list is given)."""
    check_fields(fields)
    check_forms(forms)
    wanted: Callable[[Column], bool]
    if not fields and not forms:
        def wanted(c: Column) -> bool:
            return True
    else:
        names, chosen = set(fields), set(forms)

        def wanted(c: Column) -> bool:
            base = c.field.name if c.field is not None else c.name
            return base in names or c.form in chosen
    return [c for c in columns()
            if c.name != RECORD_ID and wanted(c)
            and (c.field is None or c.field.name not in hidden)]


def prepare_export(session: Session, *, actor: Actor, query: RecordQuery) -> RecordExport:
    """Check the parameters and plan the export; raises ``BadParameter`` (nothing read)."""
    if query.format not in ("csv", "json"):
        raise BadParameter(f"Records are exported as csv or json; '{query.format}' is not "
                           "offered here.")
    if query.decimal not in ("", ".", ","):
        raise BadParameter("The parameter \"decimalCharacter\" must be '.' or ','.")
    known_events = get_dictionary().events.events
    unknown = [e for e in query.events if e not in known_events]
    if unknown:
        raise BadParameter(f"The following values in the parameter \"events\" are not valid: "
                           f"{', '.join(unknown)} (events: {', '.join(known_events)}).")
    hidden = withheld_fields() if deidentified(actor) else frozenset()
    data_columns = select_columns(query.fields, query.forms, hidden)
    test = compile_filter(query.filter_logic)
    begin = parse_when(query.date_begin, "dateRangeBegin")
    end = parse_when(query.date_end, "dateRangeEnd")
    # REDCap exports the data access group only to people not in one: outreach workers
    # belong to their centre.
    dags = query.dags and may(actor, "choose_centre")
    return RecordExport(session, actor, query, data_columns, test, begin, end,
                        hidden=hidden, dags=dags)
