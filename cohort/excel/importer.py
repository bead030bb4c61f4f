"""Importing a filled workbook (or a REDCap export): every row checked, all or nothing.

Rows go through the normal services (``enrol``, ``save_questionnaires``, ``log_session``)
inside one ``batch`` transaction. A row with an unreadable cell is checked too, without
that cell (what only follows from the missing cell is not reported twice), so the person
hears about every problem at once. The services check the dictionary before the protocol
rules, though: when an unreadable cell is a required answer, the row's rules (dates,
windows, eligibility) are checked in the next round, once the cell is readable.
Enrolment and session rows each get a SAVEPOINT, so a refused row is rolled back alone and
the next rows are still checked. If any row was refused, or on ``dry_run``, the whole
batch is rolled back. Rows flagged by a soft rule are saved and their deviations listed.

Importing the same file twice writes nothing: a written import is recorded with its
SHA-256 digest (``ImportBatch``), and rows already stored (same questionnaire answers, same
session) are counted as unchanged rather than written again. Enrolments have no natural key
(no names are kept, codes are generated): in an enrolment workbook a row equal field for
field to a participant of the same centre counts as that person, unchanged, so rows can be
added to a workbook and the file imported again; each stored person answers for one row
only, so a further identical row (and, from a REDCap export, any match) is refused with
an explanation instead of silently creating a second person. A REDCap record has a natural
key, its record id: the participant it became is stored with its enrolment and found again
in later exports (``records``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from hashlib import sha256

from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select

from cohort.db import BUSY_MESSAGE, is_busy
from cohort.dictionary import get_dictionary
from cohort.errors import CohortError, NotFound, ProtocolViolation, ValidationFailed
from cohort.excel.layout import CODE, STAFF, Kind
from cohort.excel.reader import EntryRow, EntrySheet, Problem, read_workbook
from cohort.messages import Message, msg
from cohort.models import Account, AerliSession, Centre, ImportBatch, Participant
from cohort.rules import Finding
from cohort.services.bulk import BulkRefused, QuestionnaireRow, save_questionnaires
from cohort.services.context import Actor, batch, get_participant
from cohort.services.deviations import describe
from cohort.services.enrolment import EnrolmentCreate, enrol, enrolment_from_answers
from cohort.services.sessions import AerliSessionCreate, log_session, session_from_answers
from cohort.vocab import Timepoint

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
_STAFF_SPLIT = re.compile(r"[,;/\s]+")
UNREADABLE = "import.unreadable_value"
#: REDCap rows of the forms filled between visits: their date, and where a refusal shows.
INSTRUMENT_DATES = {"aerli_session": "session_date", "follow_up_status": "fu_status_date"}
INSTRUMENT_FIELDS = {"follow_up_status": "fu_status"}


class ImportStopped(CohortError):
    """An unexpected failure stopped the import; everything was rolled back."""


class ImportBusy(CohortError):
    """Another import or save holds the database; nothing was written, try again later."""


class _RollBack(Exception):
    """Raised inside the batch to undo it (dry run, or a refused row)."""


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


def digest_of(data: bytes) -> str:
    return sha256(data).hexdigest()


def import_file(
    session: Session,
    *,
    actor: Actor,
    data: bytes,
    filename: str,
    dry_run: bool = False,
    on: date | None = None,
) -> ImportReport:
    """Read and import a workbook (``.xlsx``) or a REDCap records export (``.csv``)."""
    sheet = read_file(data, filename)
    return import_sheet(session, actor=actor, sheet=sheet, data=data, filename=filename,
                        dry_run=dry_run, on=on)


def read_file(data: bytes, filename: str) -> EntrySheet:
    """Read a workbook or REDCap export (no database: callers read before they lock)."""
    if is_csv(filename, data):
        from cohort.excel.redcap import read_records

        return read_records(data, name=filename)
    return read_workbook(data)


def is_csv(filename: str, data: bytes) -> bool:
    return filename.lower().endswith(".csv") or not data.startswith(b"PK")


def import_sheet(
    session: Session,
    *,
    actor: Actor,
    sheet: EntrySheet,
    data: bytes,
    filename: str,
    dry_run: bool = False,
    on: date | None = None,
    remember: bool = True,
) -> ImportReport:
    """Check and write every row in one transaction; see the module docstring.

    With ``remember`` off (REDCap API imports) the file's digest is neither looked up nor
    recorded: the same rows sent again are checked again (and count as unchanged).

    Raises ``ImportBusy`` when another writer keeps the database locked (nothing is
    written), ``ImportStopped`` on any other unexpected failure (nothing is written).
    """
    report = ImportReport(filename, sheet.kind, sheet.title, digest_of(data), dry_run,
                          rows=len(sheet.rows), blank_rows=sheet.blank_rows,
                          problems=list(sheet.problems),
                          sheets=[layout.title for layout in sheet.layouts])
    try:
        earlier = session.exec(select(ImportBatch).where(
            ImportBatch.file_digest == report.digest)).first() if remember else None
    except OperationalError as error:
        if is_busy(error):
            session.rollback()
            raise ImportBusy(BUSY_MESSAGE) from error
        raise
    if earlier is not None:
        report.already_imported = earlier.imported_at
        return report
    if any(sheet.in_header(p) for p in report.problems):
        return report  # a header to fix first: checking rows now would only add noise
    read_first = len(report.problems)
    work: Callable[[Session, Actor, EntrySheet, ImportReport, date | None], None] = {
        Kind.QUESTIONNAIRE: _questionnaires, Kind.ENROLMENT: _enrolments,
        Kind.SESSION: _sessions}[sheet.kind]
    try:
        with batch(session):
            work(session, actor, sheet, report, on)
            if report.problems or dry_run:
                raise _RollBack
            if report.written and remember:
                session.add(ImportBatch(
                    file_digest=report.digest, filename=filename[-255:],
                    kind=sheet.kind.value, actor_id=actor.staff_id,
                    rows_written=report.written, rows_skipped=report.unchanged))
    except _RollBack:
        pass
    except CohortError:
        raise
    except Exception as error:
        if is_busy(error):
            raise ImportBusy(BUSY_MESSAGE) from error
        raise ImportStopped(
            msg("import.stopped", error=type(error).__name__, detail=error)) from error
    report.problems[read_first:] = _not_from_unreadable(report.problems[:read_first],
                                                        report.problems[read_first:])
    if report.problems or dry_run:
        report.created.clear()
    return report


def _not_from_unreadable(read: list[Problem], checked: list[Problem]) -> list[Problem]:
    """The problems the checks found, less those an unreadable cell of the row explains.

    A row with an unreadable cell is still checked (the cell is left out), so the person
    sees every problem of the row at once. Leaving the cell out makes the dictionary
    say it needs an answer, and may show or hide the questions whose branching logic
    depends on it: those problems are the unreadable cell's, already reported, and dropped.
    """
    unreadable: dict[tuple[str, int], set[str]] = {}
    for p in read:
        if p.rule == UNREADABLE and p.row is not None:
            unreadable.setdefault((p.sheet, p.row), set()).add(p.field or CODE)
    if not unreadable:
        return checked
    kept: list[Problem] = []
    for p in checked:
        fields = unreadable.get((p.sheet, p.row or 0))
        if fields is None or not _depends_on(p.field, fields):
            kept.append(p)
    return kept


def _depends_on(name: str, fields: set[str]) -> bool:
    """Whether ``name`` is one of ``fields`` or asked depending on them (branching logic)."""
    if name in fields:
        return True
    dictionary = get_dictionary()
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = dictionary.fields.get(todo.pop())
        if current is None or current.name in seen or current.branching_node is None:
            continue
        seen.add(current.name)
        references = {n.name for n in current.branching_node.references()}
        if references & fields:
            return True
        todo.extend(references)
    return False


# --------------------------------------------------------------------------- problems
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


def _flagged(sheet: EntrySheet, row: EntryRow, findings: list[tuple[str, str]],
             report: ImportReport) -> None:
    for rule_id, message in findings:
        report.deviations.append(at(sheet, row, RULE_FIELDS.get(rule_id, CODE), rule_id,
                                     message, "deviation"))


def need_code(sheet: EntrySheet, row: EntryRow, report: ImportReport) -> str | None:
    """The row's participant code (REDCap: record id); a problem when it has none."""
    if not row.code:
        report.problems.append(at(sheet, row, CODE, "import.no_code",
                                   msg("import.no_code")))
    return row.code


# --------------------------------------------------------------------------- kinds
def _questionnaires(session: Session, actor: Actor, sheet: EntrySheet, report: ImportReport,
                    on: date | None) -> None:
    rows: list[QuestionnaireRow] = []
    by_ref: dict[str, EntryRow] = {}
    first: dict[tuple[str, Timepoint], EntryRow] = {}
    enrolled: dict[str, str] = {}
    refused: set[str] = set()
    if sheet.source == "export":
        from cohort.excel.records import between_visits, resolve

        enrolled, refused = resolve(session, actor, sheet, report, on)
    for row in sheet.rows:
        if row.instrument:
            continue
        code = need_code(sheet, row, report)
        if code in refused:
            continue
        code = enrolled.get(code, code) if code else None
        timepoint = row.timepoint or sheet.timepoint
        if code is None or timepoint is None:
            continue
        earlier = first.setdefault((code, timepoint), row)
        if earlier is not row:
            report.problems.append(_twice(sheet, row, earlier, timepoint))
            continue
        by_ref[row.ref] = row
        rows.append(QuestionnaireRow(code, timepoint, row.answers, row.ref))
    if rows and sheet.updates:
        from cohort.excel.records import update_stored

        rows = update_stored(session, actor, sheet, report, on, rows, by_ref)
    if rows:
        _save_questionnaires(session, actor, sheet, report, on, rows, by_ref)
    if sheet.source == "export":
        between_visits(session, actor, sheet, report, on, enrolled, refused)


def _save_questionnaires(session: Session, actor: Actor, sheet: EntrySheet,
                         report: ImportReport, on: date | None, rows: list[QuestionnaireRow],
                         by_ref: dict[str, EntryRow]) -> None:
    try:
        result = save_questionnaires(session, actor=actor, rows=rows, on=on)
    except BulkRefused as refused:
        for error in refused.errors:
            report.problems.extend(problems_for(sheet, by_ref[error.row.ref], error.error))
        return
    report.written += len(result.saved)
    report.unchanged += len(result.unchanged)
    refs = [r.ref for r in rows if r not in result.unchanged]
    for ref, saved in zip(refs, result.saved, strict=True):
        _flagged(sheet, by_ref[ref], [(d.rule_id, describe(d)) for d in saved.deviations],
                 report)


def _twice(sheet: EntrySheet, row: EntryRow, earlier: EntryRow, timepoint: Timepoint
           ) -> Problem:
    """A second row for the same questionnaire in one file (``visit.duplicate``)."""
    there = sheet.layout_of(earlier).title
    other_sheet = there != sheet.layout_of(row).title
    return at(sheet, row, CODE, "visit.duplicate", msg(
        f"import.duplicate_visit.{sheet.source}{'.other_sheet' if other_sheet else ''}",
        row=earlier.number, sheet=there, code=earlier.code, timepoint=timepoint))


def write_row(session: Session, sheet: EntrySheet, row: EntryRow, report: ImportReport,
               write: Callable[[], list[Finding] | list[tuple[str, str]] | None]) -> bool:
    """Run one row's ``write`` in a SAVEPOINT: refused, it is undone alone and reported;
    saved, the soft-rule findings it returns are listed as deviations."""
    nested = session.begin_nested()
    try:
        flagged = write()
    except CohortError as error:
        nested.rollback()
        report.problems.extend(problems_for(sheet, row, error))
        return False
    nested.commit()
    if flagged:
        _flagged(sheet, row, [f if isinstance(f, tuple) else (f.rule_id, f.message)
                              for f in flagged], report)
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
        matches = _same_enrolments(session, data, actor, exclude=claimed or set(),
                                   centre=centre)
        twin = matches[0].code if matches else None
        if twin is not None and claimed is not None and twin not in claimed:
            claimed.add(twin)
            report.unchanged += 1
            return
        if len(matches) == 1 and adopt is not None and adopt(matches[0]):
            created.append(matches[0].code)
            return
        if twin is not None:
            raise CohortError(
                msg("import.duplicate_enrolment", twin=twin))
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


def _enrolments(session: Session, actor: Actor, sheet: EntrySheet, report: ImportReport,
                on: date | None) -> None:
    claimed: set[str] = set()
    for row in sheet.rows:
        enrol_row(session, actor, sheet, row, row.answers, sheet.centre, report, on, row.ref,
                   claimed)


def _same_enrolments(session: Session, data: EnrolmentCreate, actor: Actor,
                     exclude: set[str] | None = None,
                     centre: str | None = None) -> list[Participant]:
    """Every visible participant (of ``centre``, when given) enrolled with the same
    answers, those in ``exclude`` last."""
    candidates = session.exec(select(Participant).where(
        Participant.inclusion_date == data.inclusion_date,
        Participant.age_at_inclusion == data.age)).all()
    centre_id = None
    if centre:
        centre_id = session.exec(select(Centre.id).where(
            Centre.code == centre.strip().upper())).first()
    candidates = sorted(candidates, key=lambda p: (p.code in (exclude or set()), p.code))
    return [person for person in candidates
            if actor.can_see(person.centre_id)
            and (centre_id is None or person.centre_id == centre_id)
            and (person.consent_date, person.year_of_birth, person.gender, person.group,
                 person.injected_past_month, person.wish_neck_groin, person.reached_via) == (
                data.consent_date, data.year_of_birth, data.gender, data.group,
                data.injected_past_month, data.wish_neck_groin, data.reached_via)]


def _sessions(session: Session, actor: Actor, sheet: EntrySheet, report: ImportReport,
              on: date | None) -> None:
    for row in sheet.rows:
        code = need_code(sheet, row, report)
        if code is not None:
            session_row(session, actor, sheet, row, code, report, on)


def session_row(session: Session, actor: Actor, sheet: EntrySheet, row: EntryRow, code: str,
                report: ImportReport, on: date | None) -> None:
    """Log one AERLI session row through ``log_session`` (in its own SAVEPOINT).

    A session already stored (same day, place, modality and content) is counted unchanged.
    """
    def write() -> list[tuple[str, str]] | None:
        staff_ids = _staff_ids(session, row.staff)
        data = session_from_answers(row.answers, staff_ids)
        if _session_stored(session, actor, code, data):
            report.unchanged += 1
            return None
        saved = log_session(session, actor=actor, code=code, data=data, on=on)
        report.written += 1
        return [(d.rule_id, describe(d)) for d in saved.deviations]

    write_row(session, sheet, row, report, write)


def _staff_ids(session: Session, text: str | None) -> list[int]:
    """Staff ids or usernames, as typed in the 'workers present' column."""
    if not text:
        raise ProtocolViolation("import.no_staff", msg("import.no_staff"), field=STAFF)
    ids: list[int] = []
    unknown: list[str] = []
    for token in (t for t in _STAFF_SPLIT.split(text) if t):
        if token.isdigit():
            ids.append(int(token))
            continue
        account = session.exec(select(Account).where(
            Account.username == token.strip().lower())).first()
        if account is None:
            unknown.append(token)
        else:
            ids.append(account.staff_id)
    if unknown:
        raise ProtocolViolation("import.unknown_staff",
                                msg("import.unknown_staff", workers=", ".join(unknown)),
                                field=STAFF)
    return ids


def _session_stored(session: Session, actor: Actor, code: str,
                    data: AerliSessionCreate) -> bool:
    person = get_participant(session, actor, code)
    stored = session.exec(select(AerliSession).where(
        AerliSession.participant_id == person.id,
        AerliSession.session_date == data.session_date,
        col(AerliSession.setting) == data.setting,
        col(AerliSession.modality) == data.modality)).all()
    return any(s.product == data.product and s.injection_site == data.injection_site
               and sorted(s.risks) == sorted(data.risks) and sorted(s.topics) == sorted(data.topics)
               and (s.note or None) == (data.note or None) for s in stored)
