"""One import row at a time: where its problems show, its SAVEPOINT, its writers.

Shared by the workbook importer (:mod:`cohort.excel.importer`) and the REDCap records
(:mod:`cohort.excel.records`). The decisions (who a row is, what is already stored, what is
refused) are the domain's (:mod:`cohort.services.imports`); this module turns them into
problems on the cells concerned.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlmodel import Session

from cohort.errors import CohortError, NotFound, ProtocolViolation, ValidationFailed
from cohort.excel.layout import CODE, STAFF, Kind
from cohort.excel.rows import EntryRow, EntrySheet, Problem
from cohort.messages import Message
from cohort.models import Participant
from cohort.rules import Finding
from cohort.services.context import Actor, UnitOfWork
from cohort.services.deviations import describe
from cohort.services.enrolment import enrol, enrolment_from_answers
from cohort.services.imports import (
    refuse_duplicate_enrolment,
    require_code,
    same_enrolments,
    session_stored,
    staff_ids,
)
from cohort.services.sessions import log_session, session_from_answers

#: Where a rule's problem is shown when the error names no field.
RULE_FIELDS = {
    "visit.duplicate": CODE, "visit.out_of_window": "visit_date",
    "session.trained_staff": STAFF, "session.not_in_person": "modality",
    "session.high_risk_site": "injection_site", "session.after_follow_up": "session_date",
    "session.comparison_group": CODE, "group.crossing": "study_group",
    "group.locked_after_m0": "study_group",
}
DATE_FIELDS = {Kind.QUESTIONNAIRE: "visit_date", Kind.SESSION: "session_date",
               Kind.ENROLMENT: "inclusion_date"}
#: REDCap rows of the forms filled between visits: their date, and where a refusal shows.
INSTRUMENT_DATES = {"aerli_session": "session_date", "follow_up_status": "fu_status_date"}
INSTRUMENT_FIELDS = {"follow_up_status": "fu_status"}


@dataclass
class ImportReport:
    """What an import found and did; ``problems`` empty means it was (or would be) saved."""

    filename: str
    kind: Kind
    sheet: str
    digest: str
    dry_run: bool = False
    rows: int = 0
    blank_rows: int = 0
    written: int = 0
    unchanged: int = 0
    problems: list[Problem] = field(default_factory=list)
    deviations: list[Problem] = field(default_factory=list)
    created: list[tuple[str, str]] = field(default_factory=list)  # (row ref, new code)
    already_imported: datetime | None = None
    sheets: list[str] = field(default_factory=list)  # every sheet rows were read from

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def saved(self) -> bool:
        return self.ok and not self.dry_run and self.written > 0


def at(sheet: EntrySheet, row: EntryRow, name: str, rule: str, message: Message | str,
        severity: str = "error") -> Problem:
    """A problem at the cell of ``name`` on ``row`` (its code cell when it has no column)."""
    layout = sheet.layout_of(row)
    column = layout.letter(name) or layout.letter(CODE)
    return Problem(layout.title, row.number, column, name, rule, message, severity)


def problems_for(sheet: EntrySheet, row: EntryRow, error: CohortError) -> list[Problem]:
    """Turn a service's error into problems on the cells concerned."""
    if isinstance(error, ValidationFailed):
        return [at(sheet, row, p.field, f"dictionary.{p.code}", p.message)
                for p in error.problems] or [at(sheet, row, CODE, "dictionary", error.message_data)]
    if isinstance(error, ProtocolViolation):
        name = error.field or RULE_FIELDS.get(error.rule_id, CODE)
        if name == "date":
            name = INSTRUMENT_DATES.get(row.instrument or "", DATE_FIELDS[sheet.kind])
        elif name == "group":
            name = "study_group"
        elif name == "timepoint":
            name = CODE
        return [at(sheet, row, name, error.rule_id, error.message_data)]
    if isinstance(error, NotFound):
        return [at(sheet, row, CODE, "participant.unknown", error.message_data)]
    return [at(sheet, row, INSTRUMENT_FIELDS.get(row.instrument or "", CODE), "import.refused",
               error.message_data)]


def flagged(sheet: EntrySheet, row: EntryRow, findings: list[tuple[str, str]],
             report: ImportReport) -> None:
    for rule_id, message in findings:
        report.deviations.append(at(sheet, row, RULE_FIELDS.get(rule_id, CODE), rule_id,
                                     message, "deviation"))


def need_code(sheet: EntrySheet, row: EntryRow, report: ImportReport) -> str | None:
    """The row's participant code (REDCap: record id); a problem when it has none (rule
    ``import.no_code``)."""
    try:
        require_code(row.code)
    except ProtocolViolation as error:
        report.problems.extend(problems_for(sheet, row, error))
    return row.code


def write_row(session: Session, sheet: EntrySheet, row: EntryRow, report: ImportReport,
               write: Callable[[], list[Finding] | list[tuple[str, str]] | None]) -> bool:
    """Run one row's ``write`` in a unit of work nested in the import's (a SAVEPOINT):
    refused, it is undone alone and reported; saved, the soft-rule findings it returns are
    listed as deviations."""
    try:
        with UnitOfWork(session):
            found = write()
    except CohortError as error:
        report.problems.extend(problems_for(sheet, row, error))
        return False
    if found:
        flagged(sheet, row, [f if isinstance(f, tuple) else (f.rule_id, f.message)
                             for f in found], report)
    return True


def enrol_row(session: Session, actor: Actor, sheet: EntrySheet, row: EntryRow,
               answers: dict[str, object], centre: str | None, report: ImportReport,
               on: date | None, label: str, claimed: set[str] | None = None,
               link: Callable[[Participant], None] | None = None,
               adopt: Callable[[Participant], bool] | None = None) -> str | None:
    """Enrol the person of one row (in its own SAVEPOINT); their new code, or None.

    ``link`` is called with the new participant inside the same SAVEPOINT (a REDCap
    record's link to the participant it became is stored with the enrolment, or neither).

    With ``claimed`` (workbook rows), a row equal field for field to a participant of the
    same centre not yet matched by another row of this import is that participant,
    already enrolled by an earlier import of the workbook: counted unchanged, not refused,
    so rows can be added to a workbook and the whole file imported again. Each stored
    participant is matched by one row at most, so a second identical row is still refused.

    With ``adopt`` (REDCap records), a row whose enrolment matches exactly one participant
    answer for answer is offered to ``adopt`` in the same SAVEPOINT; when it takes them
    (stores the record's link), the row is that participant: their code is returned, and
    nothing is counted here (the M0 questionnaire of the row is counted unchanged).
    """
    created: list[str] = []

    def write() -> None:
        data = enrolment_from_answers(answers).model_copy(update={"centre_code": centre})
        # Participants already matched by another row come last, so two identical rows
        # match two stored people before the second is called a twin.
        matches = same_enrolments(session, data, actor, exclude=claimed or set(),
                                  centre=centre)
        twin = matches[0].code if matches else None
        if twin is not None and claimed is not None and twin not in claimed:
            claimed.add(twin)
            report.unchanged += 1
            return
        if len(matches) == 1 and adopt is not None and adopt(matches[0]):
            created.append(matches[0].code)
            return
        refuse_duplicate_enrolment(twin)
        saved = enrol(session, actor=actor, data=data, on=on)
        if link is not None:
            link(saved.record)
        created.append(saved.record.code)
        if claimed is not None:
            claimed.add(saved.record.code)
        report.created.append((label, saved.record.code))
        report.written += 1

    write_row(session, sheet, row, report, write)
    return created[0] if created else None


def session_row(session: Session, actor: Actor, sheet: EntrySheet, row: EntryRow, code: str,
                report: ImportReport, on: date | None) -> None:
    """Log one AERLI session row through ``log_session`` (in its own SAVEPOINT).

    A session already stored (same day, place, modality and content) is counted unchanged.
    """
    def write() -> list[tuple[str, str]] | None:
        workers = staff_ids(session, row.staff)
        data = session_from_answers(row.answers, workers)
        if session_stored(session, actor, code, data):
            report.unchanged += 1
            return None
        saved = log_session(session, actor=actor, code=code, data=data, on=on)
        report.written += 1
        return [(d.rule_id, describe(d)) for d in saved.deviations]

    write_row(session, sheet, row, report, write)
