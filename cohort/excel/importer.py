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

from collections.abc import Callable
from datetime import date, datetime
from hashlib import sha256

from sqlalchemy.exc import OperationalError
from sqlmodel import Session, func, select

from cohort.db import BUSY_MESSAGE, is_busy
from cohort.dictionary import get_dictionary
from cohort.errors import CohortError
from cohort.excel.layout import CODE, Kind
from cohort.excel.reader import EntryRow, EntrySheet, Problem, read_workbook
from cohort.excel.records import between_visits, resolve, update_stored
from cohort.excel.redcap import read_records
from cohort.excel.rowwork import (
    ImportReport,
    at,
    enrol_row,
    flagged,
    need_code,
    problems_for,
    session_row,
)
from cohort.messages import msg
from cohort.models import ImportBatch
from cohort.rls import under_policies
from cohort.services.bulk import BulkRefused, QuestionnaireRow, save_questionnaires
from cohort.services.context import Actor, batch
from cohort.services.deviations import describe
from cohort.vocab import Timepoint
from forms.i18n import _, ngettext

__all__ = ["ImportBusy", "ImportReport", "ImportStopped", "import_file", "import_sheet",
           "is_csv", "progress_note", "read_file"]

UNREADABLE = "import.unreadable_value"


class ImportStopped(CohortError):
    """An unexpected failure stopped the import; everything was rolled back."""


class ImportBusy(CohortError):
    """Another import or save holds the database; nothing was written, try again later."""


class _RollBack(Exception):
    """Raised inside the batch to undo it (dry run, or a refused row)."""


def progress_note(step: str, rows: int = 0) -> str:
    """What the page shows while an import job is at ``step`` (``reading``, ``checking``
    ``rows`` rows, ``marking`` the copy), in the language of whoever asked for it (a job
    runs in it): the words live here, with the import, in the ``excel`` catalogue."""
    if step == "reading":
        return _("Reading the file")
    if step == "checking":
        return ngettext("Checking and saving {n} row", "Checking and saving {n} rows",
                        rows).format(n=rows)
    return _("Marking the copy to correct")


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
        earlier = imported_at(session, report.digest) if remember else None
    except OperationalError as error:
        if is_busy(error):
            session.rollback()
            raise ImportBusy(BUSY_MESSAGE) from error
        raise
    if earlier is not None:
        report.already_imported = earlier
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


def imported_at(session: Session, digest: str) -> datetime | None:
    """When a file of this digest was first imported, by anyone: on PostgreSQL under
    row-level security, another centre's import is hidden from the importer, and the same
    file must still write nothing twice (as on SQLite), so a function answers the date."""
    connection = session.connection()
    if under_policies(connection):
        column = ImportBatch.__table__.c.imported_at  # type: ignore[attr-defined]
        return session.execute(
            select(func.cohort_imported_at(digest, type_=column.type))).scalar()
    return session.exec(select(func.min(ImportBatch.imported_at)).where(
        ImportBatch.file_digest == digest)).one()


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


# --------------------------------------------------------------------------- kinds
def _questionnaires(session: Session, actor: Actor, sheet: EntrySheet, report: ImportReport,
                    on: date | None) -> None:
    rows: list[QuestionnaireRow] = []
    by_ref: dict[str, EntryRow] = {}
    first: dict[tuple[str, Timepoint], EntryRow] = {}
    enrolled: dict[str, str] = {}
    refused: set[str] = set()
    if sheet.source == "export":
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
        flagged(sheet, by_ref[ref], [(d.rule_id, describe(d)) for d in saved.deviations],
                 report)


def _twice(sheet: EntrySheet, row: EntryRow, earlier: EntryRow, timepoint: Timepoint
           ) -> Problem:
    """A second row for the same questionnaire in one file (``visit.duplicate``)."""
    there = sheet.layout_of(earlier).title
    other_sheet = there != sheet.layout_of(row).title
    return at(sheet, row, CODE, "visit.duplicate", msg(
        f"import.duplicate_visit.{sheet.source}{'.other_sheet' if other_sheet else ''}",
        row=earlier.number, sheet=there, code=earlier.code, timepoint=timepoint))


def _enrolments(session: Session, actor: Actor, sheet: EntrySheet, report: ImportReport,
                on: date | None) -> None:
    claimed: set[str] = set()
    for row in sheet.rows:
        enrol_row(session, actor, sheet, row, row.answers, sheet.centre, report, on, row.ref,
                   claimed)


def _sessions(session: Session, actor: Actor, sheet: EntrySheet, report: ImportReport,
              on: date | None) -> None:
    for row in sheet.rows:
        code = need_code(sheet, row, report)
        if code is not None:
            session_row(session, actor, sheet, row, code, report, on)


