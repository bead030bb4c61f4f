"""Controlled vocabularies shared by the tables, the rules and the data dictionary.

The database stores readable words (``in_person``); the dictionary and REDCap exports use
numeric choice codes (``1``). The code ↔ word tables below are the single bridge between
them, and ``tests/cohort/test_vocab.py`` checks they agree with ``data_dictionary.csv``.
"""

from __future__ import annotations

from enum import StrEnum


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


class Timepoint(StrEnum):
    M0 = "M0"
    M6 = "M6"
    M12 = "M12"


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

TIMEPOINT_EVENTS: dict[Timepoint, str] = {
    Timepoint.M0: "m0_arm_1",
    Timepoint.M6: "m6_arm_1",
    Timepoint.M12: "m12_arm_1",
}

# Forms stored in their own tables rather than in a questionnaire's answers.
RECORD_FORMS = frozenset({"enrolment", "aerli_session", "follow_up_status"})


def code_for(mapping: dict[str, StrEnum], value: StrEnum) -> str:
    """Reverse look-up: the dictionary code of a stored word."""
    for code, word in mapping.items():
        if word == value:
            return code
    raise KeyError(value)
