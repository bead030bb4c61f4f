"""A record of processing (GDPR Art. 30 style), generated from the schema and the roles.

Every column of every table is classified here, once (a test fails when a column is added
without a category); the questionnaire's ``answers`` are expanded into the data
dictionary's fields. For each field the report says its category, which roles can read it
and export it, and where it goes (API, analysis export, audit trail, archive, backups).
Who reads what comes from the code that decides it: rule ``scope.role`` (``rules.may``),
the centre scope of each role and the statisticians' de-identification (``deid``). Which
columns the API and the analysis export carry is declared below and checked by tests
against the OpenAPI schema and the analysis extraction, so that a data-protection officer
reading this report reads what the code does.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlmodel import SQLModel

from cohort import models  # noqa: F401  (registers every table)
from cohort.archive import NEVER_ARCHIVED
from cohort.dictionary import get_dictionary
from cohort.rules import may
from cohort.schedule import get_schedule
from cohort.services.deid import FREE_TEXT_COLUMNS, withheld_fields
from cohort.settings import get_settings
from cohort.vocab import RECORD_FORMS, Role


class Category(StrEnum):
    CODE = "pseudonymous code"
    HEALTH = "health and drug-use data (GDPR Art. 9)"
    INDIRECT = "indirect identifier"
    FREE_TEXT = "free text"
    STAFF = "staff data"
    CREDENTIAL = "credential"
    TRACE = "access and change log"
    ADMIN = "study administration"


C, H, Q, F, S, K, T, A = (Category.CODE, Category.HEALTH, Category.INDIRECT,
                          Category.FREE_TEXT, Category.STAFF, Category.CREDENTIAL,
                          Category.TRACE, Category.ADMIN)


@dataclass(frozen=True)
class Spec:
    category: Category
    api: bool = False      # carried by the REST API's responses
    export: bool = False   # read by the analysis extraction (cohort export, archive)


def _t(api: str = "", export: str = "", **columns: Category) -> dict[str, Spec]:
    shown, exported = set(api.split()), set(export.split())
    return {name: Spec(cat, name in shown, name in exported) for name, cat in columns.items()}


SCHEMA: dict[str, dict[str, Spec]] = {
    "centre": _t("code name city active id", "code id",
                 code=A, name=A, city=A, active=A, id=A),
    "staff": _t("display_name role centre_id aerli_trained_on active id", "",
                display_name=S, role=S, centre_id=S, aerli_trained_on=S, active=S, id=S,
                created_at=S),
    "staff_centre_access": _t(staff_id=S, centre_id=S),
    "account": _t("id username staff_id active last_sign_in_at", "",
                  id=S, username=S, password_hash=K, staff_id=S, active=S, created_at=S,
                  last_sign_in_at=S, session_epoch=K, language=S),
    "api_token": _t(id=K, account_id=K, token_digest=K, created_at=K, expires_at=K,
                    revoked=K),
    "redcap_token": _t(id=K, account_id=K, token_digest=K, created_at=K, created_by=K,
                       revoked_at=K),
    "participant": _t(
        "year_of_birth gender inclusion_date consent_date age_at_inclusion "
        "injected_past_month wish_neck_groin reached_via group id code centre_id status "
        "version",
        "id code centre_id inclusion_date age_at_inclusion year_of_birth gender reached_via "
        "group status",
        year_of_birth=Q, gender=Q, inclusion_date=Q, consent_date=Q, age_at_inclusion=Q,
        injected_past_month=H, wish_neck_groin=H, reached_via=H, group=H, id=C, code=C,
        centre_id=C, seq=C, status=H, enrolled_by=S, created_at=A, version=A),
    "status_change": _t("id status effective_date reason recorded_at",
                        "id participant_id status effective_date",
                        id=C, participant_id=C, status=H, effective_date=H, reason=F,
                        recorded_by=S, recorded_at=A),
    "screening": _t("", "id screened_on centre_id outcome reason participant_id",
                    screened_on=H, centre_id=C, staff_id=S, outcome=H, reason=F,
                    reached_via=H, id=C, participant_id=C, created_at=A),
    "questionnaire": _t("timepoint visit_date id participant_id staff_id answers "
                        "completeness in_window version",
                        "participant_id timepoint visit_date in_window completeness answers",
                        timepoint=H, visit_date=H, id=C, participant_id=C, staff_id=S,
                        answers=H, completeness=A, in_window=H, version=A, created_at=A,
                        updated_at=A),
    "aerli_session": _t("session_date setting modality product injection_site risks topics "
                        "note id participant_id counts_for_protocol",
                        "id participant_id session_date setting modality injection_site "
                        "counts_for_protocol",
                        session_date=H, setting=H, modality=H, product=H, injection_site=H,
                        risks=H, topics=H, note=F, id=C, participant_id=C, recorded_by=S,
                        counts_for_protocol=H, created_at=A),
    "session_staff": _t(session_id=C, staff_id=S),
    "deviation": _t("id rule_id severity entity record_id participant_id centre_id message "
                    "message_id message_params raised_at status resolution_comment "
                    "resolved_by resolved_at",
                    "id rule_id severity entity record_id participant_id centre_id status "
                    "raised_at",
                    id=A, rule_id=A, severity=A, entity=A, record_id=C, participant_id=C,
                    centre_id=C, message=H, message_id=A, message_params=H, raised_at=A,
                    status=A, resolution_comment=F, resolved_by=S, resolved_at=A,
                    dedupe_key=A),
    "audit_entry": _t("id at actor_id action table_name record_id field old_value new_value",
                      "", id=T, at=T, actor_id=T, action=T, table_name=T, record_id=T,
                      field=T, old_value=T, new_value=T, actor_system=T),
    "import_batch": _t(id=A, file_digest=A, filename=A, kind=A, actor_id=S, imported_at=A,
                       rows_written=A, rows_skipped=A),
    "external_record": _t(id=C, source=C, external_id=C, participant_id=C, created_at=A),
    "export_log": _t(id=T, at=T, actor_id=T, actor_name=T, channel=T, client=T, kind=T,
                     fmt=T, shape=T, fields=T, rows=T, centre_codes=T, free_text=T,
                     deidentified=T, purpose=T, target=T),
    "read_log": _t(id=T, at=T, actor_id=T, participant_id=T, centre_id=T, channel=T, what=T,
                   client=T),
    "study_lock": _t(id=T, at=T, action=T, centre_id=T, actor_id=T, reason=T),
    # Failed sign-ins, for the throttle only: deleted once out of its window (15 minutes).
    "sign_in_failure": _t(id=T, username=T, address=T, at=T),
    # Background jobs (cohort.jobs): shown to the person who queued them; their files are
    # copies of an upload or of an export (already in the export log), deleted after
    # COHORT_JOB_KEEP_DAYS. Shared values: caches and downloads kept an hour.
    "job": _t("id kind status progress_done progress_total progress_note created_at "
              "started_at finished_at attempts result error", "",
              id=A, kind=A, status=A, actor_id=S, account_id=S, params=A, created_at=A,
              started_at=A, finished_at=A, attempts=A, progress_done=A, progress_total=A,
              progress_note=A, result=H, error=A, runner=A, heartbeat_at=A),
    "job_file": _t(id=A, job_id=A, role=A, name=A, media_type=A, part=A, data=H),
    "shared_value": _t(key=A, value=H, expires_at=A),
    # Receipts of entries sent from phones (offline use): the phone's id for the entry and
    # the ids it created, so that a resend never saves twice. No answers.
    "sync_receipt": _t(entry_uuid=T, staff_id=S, kind=T, participant_code=C, result=T,
                       made_at=T, received_at=T),
}
# Tables whose every change is written to the audit trail, old and new values included.
AUDITED = frozenset({"centre", "staff", "participant", "status_change", "screening",
                     "questionnaire", "aerli_session", "deviation", "external_record",
                     "study_lock"})
# Who reads the log tables (the pages and commands that show them).
LOG_READERS: dict[str, dict[Role, str]] = {
    "audit_entry": {Role.OUTREACH_WORKER: "own centre's participants",
                    Role.RESEARCH_OFFICER: "their centres' participants",
                    Role.ADMIN: "all"},
    "read_log": {Role.RESEARCH_OFFICER: "their centres' participants", Role.ADMIN: "all"},
    "export_log": {Role.RESEARCH_OFFICER: "national officers only", Role.ADMIN: "all"},
    "study_lock": {Role.ADMIN: "all"},
    "sign_in_failure": {},  # read by the sign-in throttle only, never shown
}
SCOPE = {Role.OUTREACH_WORKER: "own centre", Role.RESEARCH_OFFICER: "their centres",
         Role.STATISTICIAN: "all centres, de-identified", Role.ADMIN: "all centres"}


@dataclass(frozen=True)
class FieldRow:
    table: str
    field: str
    category: str
    read_by: dict[str, str]
    export_by: dict[str, str]
    goes_to: list[str]


def _withheld_from_statisticians(table: str, column: str, category: Category) -> bool:
    if category in (Category.FREE_TEXT, Category.STAFF):
        return True
    return column in FREE_TEXT_COLUMNS.get(table, frozenset())


def _readers(table: str, column: str, spec: Spec) -> dict[Role, str]:
    if spec.category is Category.CREDENTIAL:
        return {}
    if table in LOG_READERS:
        return dict(LOG_READERS[table])
    if spec.category is Category.STAFF:
        readers: dict[Role, str] = {role: SCOPE[role] for role in Role
                                    if role is not Role.STATISTICIAN}
        readers[Role.STATISTICIAN] = "roles and ids only, no names"
        return readers if table != "account" else {Role.ADMIN: "all centres"}
    out = {}
    for role in Role:
        if role is Role.STATISTICIAN and _withheld_from_statisticians(table, column,
                                                                      spec.category):
            continue
        out[role] = SCOPE[role]
    return out


def _destinations(table: str, column: str, spec: Spec) -> list[str]:
    where = []
    if spec.api:
        where.append("REST API")
    if column in REDCAP_API.get(table, ()):
        where.append("REDCap API (POST /api/)")
    if spec.export:
        where.append("analysis export (cohort export)")
    if table in AUDITED:
        where.append("audit trail")
    if table not in NEVER_ARCHIVED:
        where.append("archive bundle")
    where.append("database backups")
    return where


# Columns the REDCap-compatible API (``POST /api/``, cohort.redcap) writes into its flat
# record rows: the enrolment form on the M0 row, questionnaires, and sessions and status
# changes as repeating instruments; the centre as the data access group. It honours the
# same reach and de-identification as the REST API (tests/cohort/test_privacy.py).
REDCAP_API: dict[str, frozenset[str]] = {
    "participant": frozenset({"code", "centre_id", "age_at_inclusion", "injected_past_month",
                              "wish_neck_groin", "consent_date", "reached_via", "group",
                              "inclusion_date", "year_of_birth", "gender"}),
    "questionnaire": frozenset({"timepoint", "visit_date", "answers"}),
    "aerli_session": frozenset({"session_date", "setting", "modality", "product",
                                "injection_site", "risks", "topics", "note"}),
    "status_change": frozenset({"status", "effective_date", "reason"}),
}


# Web downloads that carry a stored column, and the roles offered each.
DOWNLOADS: dict[tuple[str, str], tuple[str, ...]] = {
    ("participant", "code"): ("entry workbook", "monitoring report"),
    ("participant", "group"): ("monitoring report",),
    ("participant", "status"): ("monitoring report",),
    ("deviation", "message"): ("monitoring report",),
    ("deviation", "rule_id"): ("monitoring report",),
    ("deviation", "status"): ("monitoring report",),
}


def _offered(download: str) -> list[Role]:
    if download == "monitoring report":
        return [role for role in Role if may(role, "review")]
    return [role for role in Role if may(role, "write")]


def _exporters(table: str, column: str, spec: Spec,
               readers: dict[Role, str]) -> dict[Role, str]:
    ways: dict[Role, list[str]] = {}
    if spec.api:
        for role in readers:
            ways.setdefault(role, []).append("REST API")
    if column in REDCAP_API.get(table, ()):
        for role in readers:
            ways.setdefault(role, []).append("REDCap API")
    for download in DOWNLOADS.get((table, column), ()):
        for role in _offered(download):
            ways.setdefault(role, []).append(download)
    if table not in NEVER_ARCHIVED:
        ways.setdefault(Role.ADMIN, []).append(
            "command line: " + ("cohort export, " if spec.export else "") + "cohort archive")
    return {role: ", ".join(w) for role, w in ways.items()}


def _row(table: str, column: str, spec: Spec) -> FieldRow:
    readers = _readers(table, column, spec)
    return FieldRow(table, column, spec.category.value,
                    {r.value: v for r, v in readers.items()},
                    {r.value: v for r, v in _exporters(table, column, spec, readers).items()},
                    _destinations(table, column, spec))


def _answers() -> Iterable[FieldRow]:
    """The dictionary fields stored in ``questionnaire.answers`` (the forms not kept in a
    table of their own), each with its category."""
    dictionary = get_dictionary()
    identifiers = set(dictionary.identifier_fields())
    free_text = withheld_fields() - identifiers
    base = SCHEMA["questionnaire"]["answers"]
    for form in dictionary.forms.values():
        if form.name in RECORD_FORMS:
            continue
        for f in form.fields:
            if f.name in identifiers:
                spec = Spec(Category.INDIRECT, base.api, export=False)
            elif f.name in free_text:
                spec = Spec(Category.FREE_TEXT, base.api, export=True)
            else:
                spec = base
            row = _row("questionnaire", f"answers.{f.name}", spec)
            goes = row.goes_to
            if f.name in identifiers:
                goes = ["never exported (identifier)", *goes]
            elif f.name in free_text:
                goes = [g.replace("(cohort export)", "(only with --include-free-text)")
                        for g in goes]
            yield FieldRow(row.table, row.field, row.category, row.read_by, row.export_by,
                           goes)


def field_rows() -> list[FieldRow]:
    rows: list[FieldRow] = []
    for table in sorted(SCHEMA):
        for column, spec in SCHEMA[table].items():
            if table == "questionnaire" and column == "answers":
                rows.extend(_answers())
            else:
                rows.append(_row(table, column, spec))
    return rows


def unclassified() -> list[str]:
    """Columns of the schema this module does not classify (a test keeps it empty)."""
    missing = []
    for name, table in SQLModel.metadata.tables.items():
        known = SCHEMA.get(name, {})
        missing += [f"{name}.{c.name}" for c in table.columns if c.name not in known]
    return sorted(missing)


def report(*, version: str, revision: str | None = None) -> dict[str, Any]:
    """The whole record, as data (``cohort privacy-report --format json``)."""
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "software_version": version, "schema_revision": revision,
        "processing": "Follow-up of a longitudinal harm-reduction intervention cohort "
                      "(OUTSIDER/AERLI): enrolment, questionnaires at "
                      f"{'/'.join(get_schedule().names)}, AERLI sessions, protocol "
                      "monitoring and statistical analysis.",
        "data_subjects": ["participants (people who inject drugs; pseudonymous study code, "
                          "no name, contact or full date of birth)",
                          "study staff (name, role, centre, training date, sign-in)"],
        "roles": {role.value: SCOPE[role] for role in Role},
        "retention": f"{get_settings().retention_years} years after the study (or the "
                     "centre) is locked; `cohort archive` lists what is then due for "
                     "deletion, nothing is deleted automatically.",
        "safeguards": [
            "pseudonymous study code with a check letter; no direct identifier stored",
            "each role reads its own centre(s) only; statisticians read de-identified data",
            "append-only audit trail, export log, read log and lock history (database "
            "triggers refuse UPDATE and DELETE)",
            "full-cohort exports need a stated purpose (rule export.no_purpose)",
            "study lock at the end: every write refused (rule study.locked)",
            "archive bundle with a SHA-256 manifest (`cohort archive --verify`)"],
        "fields": [asdict(r) for r in field_rows()],
    }


def as_markdown(data: dict[str, Any]) -> str:
    out = ["# Record of processing (GDPR Art. 30)", "",
           f"Generated {data['generated_at']} from the schema and the roles "
           f"(software {data['software_version']}, schema {data['schema_revision']}).", "",
           f"**Processing:** {data['processing']}", "", "**Data subjects:**"]
    out += [f"- {s}" for s in data["data_subjects"]]
    out += ["", "**Roles and their reach:**"]
    out += [f"- {role}: {reach}" for role, reach in data["roles"].items()]
    out += ["", f"**Retention:** {data['retention']}", "", "**Safeguards:**"]
    out += [f"- {s}" for s in data["safeguards"]]
    out += ["", "## Fields", "",
            "| table | field | category | read by | export by | goes to |",
            "|---|---|---|---|---|---|"]
    for r in data["fields"]:
        read = "; ".join(f"{k}: {v}" for k, v in r["read_by"].items()) or "no one"
        export = "; ".join(f"{k}: {v}" for k, v in r["export_by"].items()) or "no one"
        out.append(f"| {r['table']} | {r['field']} | {r['category']} | {read} | {export} | "
                   f"{', '.join(r['goes_to'])} |")
    return "\n".join(out) + "\n"


def as_csv(data: dict[str, Any]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["table", "field", "category", "read_by", "export_by", "goes_to"])
    for r in data["fields"]:
        writer.writerow([r["table"], r["field"], r["category"],
                         json.dumps(r["read_by"]), json.dumps(r["export_by"]),
                         "; ".join(r["goes_to"])])
    return buffer.getvalue()
