"""Controlled vocabularies shared by the tables, the rules and the data dictionary.

The database stores readable words (``in_person``); the dictionary and REDCap exports use
numeric choice codes (``1``). The code ↔ word tables below are the single bridge between
them, and ``tests/cohort/test_vocab.py`` checks they agree with ``data_dictionary.csv``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class Role(StrEnum):
    OUTREACH_WORKER = "outreach_worker"
    RESEARCH_OFFICER = "research_officer"
    STATISTICIAN = "statistician"
    ADMIN = "admin"


class Group(StrEnum):
    INTERVENTION = "intervention"
    COMPARISON = "comparison"


class Gender(StrEnum):
    WOMAN = "woman"
    MAN = "man"
    TRANS_OR_NON_BINARY = "trans_or_non_binary"
    PREFERS_NOT_TO_SAY = "prefers_not_to_say"


class Status(StrEnum):
    ACTIVE = "active"
    WITHDRAWN = "withdrawn"
    DECEASED = "deceased"
    LOST_TO_FOLLOW_UP = "lost_to_follow_up"
    RETURNED = "returned"


class Timepoint(str):
    """A visit of the study's schedule by name (``M0``, ``M6``, ``M24``): a plain string.

    Not a closed enum: the visits come from the event mapping (``cohort.schedule``), so a
    study adds one with files and settings. ``.value`` is kept so code written for the
    enum reads the same. As a pydantic field (a path parameter, a request body) it accepts
    only the schedule's visits.
    """

    __slots__ = ()

    @property
    def value(self) -> str:
        return str.__str__(self)

    def __repr__(self) -> str:
        return f"Timepoint({str.__repr__(self)})"

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema

        return core_schema.no_info_after_validator_function(
            cls._of_schedule, core_schema.str_schema(),
            serialization=core_schema.plain_serializer_function_ser_schema(str))

    @classmethod
    def _of_schedule(cls, text: str) -> Timepoint:
        from cohort.schedule import get_schedule

        return cls(get_schedule().parse(text))


class Setting(StrEnum):
    SQUAT = "squat"
    PUBLIC_SPACE = "public_space"
    CAR_PARK = "car_park"
    VEHICLE = "vehicle"
    OTHER_OFF_SITE = "other_off_site"
    CENTRE_PREMISES = "centre_premises"


class Modality(StrEnum):
    IN_PERSON = "in_person"
    ONLINE = "online"
    PHONE = "phone"


class InjectionSite(StrEnum):
    ARM = "arm"
    HAND = "hand"
    LEG = "leg"
    FOOT = "foot"
    NECK = "neck"
    GROIN = "groin"
    OTHER = "other"


HIGH_RISK_SITES = frozenset({InjectionSite.NECK, InjectionSite.GROIN})


class ScreeningOutcome(StrEnum):
    ENROLLED = "enrolled"
    NOT_ELIGIBLE = "not_eligible"
    DECLINED = "declined"


class Severity(StrEnum):
    HARD = "hard"
    SOFT = "soft"
    TIME = "time"


class DeviationStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Channel(StrEnum):
    """Where a read or an export came from (the export and read logs say it)."""

    CLI = "cli"
    WEB = "web"
    API = "api"
    REDCAP_API = "redcap_api"


class ExportKind(StrEnum):
    """What left the system, as the export log names it."""

    EXPORT = "export"            # analysis-ready data file (cohort export)
    ANALYSIS = "analysis"        # analysis report and estimates (cohort analyse)
    TEMPLATE = "template"        # offline entry workbook (lists participants due)
    REPORT = "report"            # monitoring workbook (retention, visits due, deviations)
    CODEBOOK = "codebook"        # codebook or dictionary (no participant data)
    API_PAGE = "api_page"        # one page of a list endpoint of the API
    ARCHIVE = "archive"          # end-of-study archive bundle
    BACKUP = "backup"            # a copy of the whole database (cohort backup)


class LockAction(StrEnum):
    LOCK = "lock"
    UNLOCK = "unlock"


# Dictionary choice codes, per variable, mapped to the words stored in the tables.
GROUP_CODES: dict[str, Group] = {"1": Group.INTERVENTION, "2": Group.COMPARISON}
GENDER_CODES: dict[str, Gender] = {
    "1": Gender.WOMAN,
    "2": Gender.MAN,
    "3": Gender.TRANS_OR_NON_BINARY,
    "4": Gender.PREFERS_NOT_TO_SAY,
}
REACHED_VIA_CODES: dict[str, Modality] = {
    "1": Modality.IN_PERSON,
    "2": Modality.ONLINE,
    "3": Modality.PHONE,
}
SETTING_CODES: dict[str, Setting] = {
    "1": Setting.SQUAT,
    "2": Setting.PUBLIC_SPACE,
    "3": Setting.CAR_PARK,
    "4": Setting.VEHICLE,
    "5": Setting.OTHER_OFF_SITE,
    "6": Setting.CENTRE_PREMISES,
}
MODALITY_CODES: dict[str, Modality] = REACHED_VIA_CODES
INJECTION_SITE_CODES: dict[str, InjectionSite] = {
    "1": InjectionSite.ARM,
    "2": InjectionSite.HAND,
    "3": InjectionSite.LEG,
    "4": InjectionSite.FOOT,
    "5": InjectionSite.NECK,
    "6": InjectionSite.GROIN,
    "7": InjectionSite.OTHER,
}
STATUS_CODES: dict[str, Status] = {
    "1": Status.ACTIVE,
    "2": Status.WITHDRAWN,
    "3": Status.DECEASED,
    "4": Status.LOST_TO_FOLLOW_UP,
    "5": Status.RETURNED,
}

# Forms stored in their own tables rather than in a questionnaire's answers.
RECORD_FORMS = frozenset({"enrolment", "aerli_session", "follow_up_status"})


def code_for(mapping: dict[str, StrEnum], value: StrEnum) -> str:
    """Reverse look-up: the dictionary code of a stored word."""
    for code, word in mapping.items():
        if word == value:
            return code
    raise KeyError(value)
