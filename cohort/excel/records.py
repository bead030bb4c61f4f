"""REDCap records moved over: which participant each record is, and the forms filled
between visits.

A record is looked up first in ``ExternalRecord`` (source ``redcap``): a record enrolled by
an earlier import of the same project maps to the participant it became, so a fresh export
can be imported again (questionnaires already stored are counted unchanged, new ones are
saved). Otherwise a record id that is a participant's study code is that participant, and
any other record is enrolled from its M0 row, its link stored in the same SAVEPOINT as the
enrolment (both written, or neither). A record moved over before links were kept (before
migration 0003) whose M0 row matches exactly one participant of the importer's centres
answer for answer, a participant with no REDCap record yet, is that participant: the link
is stored then, and the record is imported as known.

Rows of the ``ongoing_arm_1`` event go through the services the web pages use, with the
same hard rules, soft rules and deviations: follow-up status rows through
``change_status`` (oldest first, so a loss to follow-up and a return apply in order),
AERLI session rows through ``log_session``. A status the participant's history already
shows on that date, or a session already stored, is counted unchanged, so importing the
export again writes nothing new. REDCap's session form does not say who was present, and a
session is never saved without its workers: session rows need a ``workers_present`` column
(staff ids or usernames) added to the export.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import partial

from sqlmodel import Session, col, select

from cohort.dictionary import get_dictionary
from cohort.errors import CohortError, FieldError, ValidationFailed
from cohort.excel.layout import CODE, STAFF
from cohort.excel.reader import EntryRow, EntrySheet
from cohort.excel.redcap import SESSION_FORM, STATUS_FORM
from cohort.excel.rowwork import (
    ImportReport,
    at,
    enrol_row,
    need_code,
    problems_for,
    session_row,
    write_row,
)
from cohort.messages import msg
from cohort.models import Participant, Questionnaire
from cohort.services.bulk import QuestionnaireRow
from cohort.services.context import Actor, get_participant
from cohort.services.deviations import describe
from cohort.services.enrolment import enrolment_answers
from cohort.services.imports import (
    CHUNK,
    adopt_record,
    check_enrolment_answer,
    import_status,
    known_records,
    link_record,
    session_stored,
)
from cohort.services.participants import change_group
from cohort.services.questionnaires import answers_unchanged, update_questionnaire
from cohort.services.sessions import session_from_answers
from cohort.vocab import GROUP_CODES, STATUS_CODES, Status, Timepoint

SOURCE = "redcap"
REASON_LENGTH = 500



def resolve(session: Session, actor: Actor, sheet: EntrySheet, report: ImportReport,
            on: date | None) -> tuple[dict[str, str], set[str]]:
    """Record id -> study code, for every record known here or enrolled now.

    Also returns the records refused (their enrolment, or a record linked to a centre the
    importing person does not work with): their other rows are not checked.
    """
    wanted = [] if sheet.auto_number else sorted({r.code for r in sheet.rows if r.code})
    codes, hidden = known_records(session, actor, SOURCE, wanted)
    refused: set[str] = set()
    for row in sheet.rows:
        record = row.code
        if sheet.updates and record in codes and row.enrolment:
            write_row(session, sheet, row, report, partial(
                _enrolment_changes, session, actor, codes[record], row.enrolment))
        if not record or record in codes or record in refused:
            continue
        if record in hidden:
            refused.add(record)
            report.problems.append(at(
                sheet, row, CODE, "scope.other_centre",
                msg("import.other_centre_record", record=record)))
            continue
        if not row.enrolment:
            continue
        link = None if sheet.auto_number else _link(session, actor, record)
        new = enrol_row(session, actor, sheet, row, row.enrolment, row.centre or sheet.centre,
                        report, on, f"record {record}", link=link,
                        adopt=_adopt(session, actor, record) if link is not None else None)
        if new is None:
            refused.add(record)
        else:
            codes[record] = new
    return codes, refused


def _link(session: Session, actor: Actor, record: str) -> Callable[[Participant], None]:
    return partial(link_record, session, actor, SOURCE, record)


def _adopt(session: Session, actor: Actor, record: str) -> Callable[[Participant], bool]:
    return partial(adopt_record, session, actor, SOURCE, record)


def between_visits(session: Session, actor: Actor, sheet: EntrySheet, report: ImportReport,
                   on: date | None, codes: dict[str, str], refused: set[str]) -> None:
    """Follow-up status rows (oldest first), then AERLI session rows, each in a SAVEPOINT."""
    statuses = sorted((r for r in sheet.rows if r.instrument == STATUS_FORM),
                      key=lambda r: (str(r.answers.get("fu_status_date", "")), r.number))
    sessions = [r for r in sheet.rows if r.instrument == SESSION_FORM]
    for row in [*statuses, *sessions]:
        found = need_code(sheet, row, report)
        if found is None or found in refused:
            continue
        code = codes.get(found, found)
        if row.instrument == STATUS_FORM:
            _status_row(session, actor, sheet, row, code, report, on)
        elif row.staff:
            session_row(session, actor, sheet, row, code, report, on)
        elif _stored_session(session, actor, row, code):
            report.unchanged += 1  # a session exported from here comes back as it was
        else:
            report.problems.append(at(sheet, row, STAFF, "import.no_staff",
                                      msg("import.no_staff.redcap", column=STAFF)))
            try:
                session_from_answers(row.answers, [])
            except CohortError as error:
                report.problems.extend(problems_for(sheet, row, error))


def _status_answers(answers: dict[str, object]) -> tuple[Status, date, str | None]:
    """The follow-up status form, checked by the dictionary, as a status change."""
    dictionary = get_dictionary()
    result = dictionary.validate(STATUS_FORM, answers)
    problems = [FieldError(p.field, p.message, p.label, p.code) for p in result.problems]
    clean = result.clean
    for name in ("fu_status", "fu_status_date"):
        if name not in clean and not any(p.field == name for p in problems):
            label = dictionary.fields[name].plain_label
            problems.append(FieldError(name, msg("import.status_reason_needed", label=label), label,
                                       "required"))
    reason = str(clean["fu_reason"]) if clean.get("fu_reason") else None
    if reason is not None and len(reason) > REASON_LENGTH:
        label = dictionary.fields["fu_reason"].plain_label
        problems.append(FieldError("fu_reason", msg("import.status_reason_too_long", label=label,
                                                    limit=REASON_LENGTH), label, "too_long"))
    if problems:
        raise ValidationFailed(problems, context="status_answers")
    status = STATUS_CODES[str(clean["fu_status"])]
    return status, date.fromisoformat(str(clean["fu_status_date"])), reason


def _status_row(session: Session, actor: Actor, sheet: EntrySheet, row: EntryRow, code: str,
                report: ImportReport, on: date | None) -> None:
    def write() -> None:
        status, effective, reason = _status_answers(row.answers)
        if import_status(session, actor=actor, code=code, status=status, effective=effective,
                         reason=reason, on=on):
            report.written += 1
        else:
            report.unchanged += 1  # the history already says so on that date

    write_row(session, sheet, row, report, write)


def _stored_session(session: Session, actor: Actor, row: EntryRow, code: str) -> bool:
    """Whether a session row without its workers is a session already stored (readable
    answers, same day, place and content)."""
    try:
        data = session_from_answers(row.answers, [])
        return session_stored(session, actor, code, data)
    except CohortError:
        return False


def _plain(value: object) -> str:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _enrolment_changes(session: Session, actor: Actor, code: str,
                       answers: dict[str, object] | None) -> list[tuple[str, str]] | None:
    """A known record's enrolment answers against the participant (REDCap API imports):
    the same answers change nothing; another group goes through ``change_group`` (rules
    ``group.crossing`` and ``group.locked_after_m0``); any other enrolment answer is fixed
    at inclusion and is refused, naming the field."""
    person = get_participant(session, actor, code)
    stored = enrolment_answers(person)
    for name, value in (answers or {}).items():
        if _plain(stored.get(name, "")) == _plain(value):
            continue
        if name == "study_group" and str(value) in GROUP_CODES:
            change_group(session, actor=actor, code=code, group=GROUP_CODES[str(value)])
            continue
        label = get_dictionary().fields[name].plain_label
        check_enrolment_answer(code, name, label, _plain(stored.get(name, "")), _plain(value))
    return None


def update_stored(session: Session, actor: Actor, sheet: EntrySheet, report: ImportReport,
                  on: date | None, rows: list[QuestionnaireRow],
                  by_ref: dict[str, EntryRow]) -> list[QuestionnaireRow]:
    """REDCap API imports: a questionnaire already stored is corrected through
    ``update_questionnaire`` (each in a SAVEPOINT; the same answers count as unchanged);
    the rows of questionnaires not stored yet are returned for the bulk writer."""
    wanted = sorted({r.code for r in rows})
    stored: dict[tuple[str, Timepoint], Questionnaire] = {}
    for start in range(0, len(wanted), CHUNK):
        for found_q, code in session.exec(
                select(Questionnaire, Participant.code)
                .join(Participant, col(Participant.id) == col(Questionnaire.participant_id))
                .where(col(Participant.code).in_(wanted[start:start + CHUNK]))):
            stored[(code, Timepoint(found_q.timepoint))] = found_q
    fresh: list[QuestionnaireRow] = []
    for row in rows:
        known = stored.get((row.code, row.timepoint))
        if known is None:
            fresh.append(row)
            continue
        write_row(session, sheet, by_ref[row.ref], report,
                  _updater(session, actor, sheet, report, on, row, known))
    return fresh


def _updater(session: Session, actor: Actor, sheet: EntrySheet, report: ImportReport,
             on: date | None, row: QuestionnaireRow, found: Questionnaire
             ) -> Callable[[], list[tuple[str, str]] | None]:
    def write() -> list[tuple[str, str]] | None:
        if answers_unchanged(found, row.answers):
            report.unchanged += 1
            return None
        version = sheet.versions.get((row.code, row.timepoint.value), found.version)
        saved = update_questionnaire(session, actor=actor, code=row.code,
                                     timepoint=row.timepoint, answers=row.answers,
                                     expected_version=version, on=on)
        report.written += 1
        return [(d.rule_id, describe(d)) for d in saved.deviations]

    return write
