"""The project's description as REDCap 14's API gives it, derived from the data dictionary
and ``event_mapping.csv`` (never written twice).

The record identifier is ``record_id``, first in the metadata and in every export (PyCap
and REDCapR take the first metadata field as the record id); its value is the
participant's study code. Centres are data access groups (``c04``), the four events of
``event_mapping.csv`` are REDCap's events in one arm, and the AERLI session log and the
follow-up status form are repeating instruments of the ``ongoing_arm_1`` event.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from cohort.dictionary import get_dictionary
from cohort.excel.redcap import ONGOING_FORMS
from cohort.models import Centre
from cohort.redcap import BadParameter
from cohort.services.context import Actor, protocol_config
from cohort.services.queries import list_centres
from cohort.settings import get_settings
from forms import DataDictionary
from forms.constants import API_COLUMNS, CHECKBOX_SEPARATOR
from forms.events import ONGOING_EVENT
from forms.fields import Field

REDCAP_VERSION = "14.0.0"
RECORD_ID = "record_id"
EVENT = "redcap_event_name"
REPEAT_INSTRUMENT = "redcap_repeat_instrument"
REPEAT_INSTANCE = "redcap_repeat_instance"
DAG = "redcap_data_access_group"
#: Columns REDCap puts after the record id, before the fields (DAG only when asked).
PLUMBING = (EVENT, REPEAT_INSTRUMENT, REPEAT_INSTANCE)
COMPLETE = "_complete"
COMPLETE_LABELS = {"0": "Incomplete", "1": "Unverified", "2": "Complete"}
_ARM = re.compile(r"_arm_\d+$")


@dataclass(frozen=True)
class Column:
    """One column of a flat export: a field, one choice of a checkbox, or a form status."""

    name: str
    form: str
    field: Field | None = None
    choice: str | None = None

    @property
    def is_complete(self) -> bool:
        return self.field is None and self.name != RECORD_ID


def _record_field(dictionary: DataDictionary) -> Field | None:
    """The dictionary's own ``record_id`` field, if it starts with one."""
    first = next(iter(dictionary.fields.values()), None)
    return first if first is not None and first.name == RECORD_ID else None


def columns(dictionary: DataDictionary | None = None) -> list[Column]:
    """Every column of a full flat export, in metadata order (plumbing excluded)."""
    dictionary = dictionary or get_dictionary()
    first_form = next(iter(dictionary.forms))
    out = [Column(RECORD_ID, first_form)]
    for name, form in dictionary.forms.items():
        for f in form.fields:
            if f.name == RECORD_ID:
                continue
            if f.is_checkbox:
                out.extend(Column(f"{f.name}{CHECKBOX_SEPARATOR}{code}", name, f, code)
                           for code in f.choices)
            elif f.field_type != "descriptive":
                out.append(Column(f.name, name, f))
        out.append(Column(f"{name}{COMPLETE}", name))
    return out


def metadata(fields: Sequence[str] = (), forms: Sequence[str] = ()) -> list[dict[str, str]]:
    """The data dictionary in REDCap's 18 keys and order, ``record_id`` first; limited to
    these fields and/or forms when given (unknown names are refused, as REDCap does)."""
    dictionary = get_dictionary()
    check_forms(forms)
    check_fields(fields)
    reader = csv.reader(io.StringIO(dictionary.to_redcap_csv(RECORD_ID)))
    next(reader)
    rows = [dict(zip(API_COLUMNS, cells, strict=True)) for cells in reader if any(cells)]
    if not fields and not forms:
        return rows
    return [row for row in rows
            if row["field_name"] in fields or row["form_name"] in forms]


def check_forms(forms: Sequence[str]) -> None:
    known = get_dictionary().forms
    unknown = [f for f in forms if f not in known]
    if unknown:
        raise BadParameter(f"The following values in the parameter \"forms\" are not valid: "
                           f"{', '.join(unknown)} (instruments: {', '.join(known)}).")


def check_fields(fields: Sequence[str]) -> None:
    """Field names (``_complete`` and ``record_id`` included) must exist."""
    known = field_names()
    unknown = [f for f in fields if f not in known]
    if unknown:
        raise BadParameter(f"The following values in the parameter \"fields\" are not valid: "
                           f"{', '.join(unknown)}.")


def field_names() -> set[str]:
    dictionary = get_dictionary()
    return ({RECORD_ID} | set(dictionary.fields)
            | {f"{form}{COMPLETE}" for form in dictionary.forms})


def instruments() -> list[dict[str, str]]:
    return [{"instrument_name": name, "instrument_label": form.label}
            for name, form in get_dictionary().forms.items()]


def export_field_names(field: str | None = None) -> list[dict[str, str]]:
    """Field name -> the column(s) it becomes in an export (checkboxes: one per choice)."""
    if field:
        check_fields([field])
    rows = [{"original_field_name": RECORD_ID, "choice_value": "",
             "export_field_name": RECORD_ID}]
    for column in columns():
        if column.field is None:
            continue
        rows.append({"original_field_name": column.field.name,
                     "choice_value": column.choice or "", "export_field_name": column.name})
    return [r for r in rows if not field or r["original_field_name"] == field]


def event_label(unique_name: str) -> str:
    """``m0_arm_1`` -> ``M0``, ``ongoing_arm_1`` -> ``Ongoing``."""
    base = _ARM.sub("", unique_name)
    if re.fullmatch(r"m\d+", base):
        return base.upper()
    return base.replace("_", " ").capitalize()


def events(arms: Sequence[str] = ()) -> list[dict[str, Any]]:
    """REDCap's event list: offsets are the visit windows' target days and half-widths."""
    mapping = get_dictionary().events
    config = protocol_config()
    rows: list[dict[str, Any]] = []
    for number, event in enumerate(mapping.events, start=1):
        arm = int(mapping.arms.get(event) or 1)
        if arms and str(arm) not in arms:
            continue
        visit = config.schedule.by_event(event)
        width = 0 if visit is None or visit is config.schedule.baseline else visit.after
        rows.append({"event_name": event_label(event), "arm_num": arm,
                     "unique_event_name": event, "custom_event_label": "",
                     "event_id": number,
                     "days_offset": visit.target_day if visit is not None else 0,
                     "offset_min": width, "offset_max": width})
    return rows


def arms() -> list[dict[str, Any]]:
    numbers = sorted({int(a or 1) for a in get_dictionary().events.arms.values()}) or [1]
    return [{"arm_num": n, "name": f"Arm {n}"} for n in numbers]


def form_event_mapping(arms: Sequence[str] = ()) -> list[dict[str, Any]]:
    return [{"arm_num": int(arm or 1), "unique_event_name": event, "form": form}
            for arm, event, form in get_dictionary().events.rows
            if not arms or arm in arms]


def repeating_forms() -> list[dict[str, str]]:
    return [{"event_name": ONGOING_EVENT, "form_name": form, "custom_form_label": ""}
            for form in ONGOING_FORMS]


def dag_name(centre: Centre) -> str:
    return centre.code.lower()


def dags(session: Session, actor: Actor) -> list[dict[str, Any]]:
    """The centres the person may see, as data access groups."""
    return [{"data_access_group_name": c.name, "unique_group_name": dag_name(c),
             "data_access_group_id": c.id} for c in list_centres(session, actor=actor)]


def project_info() -> dict[str, Any]:
    """REDCap's project attributes: longitudinal, with repeating instruments, record ids
    assigned by the system (the study code), no surveys, no randomisation module."""
    return {
        "project_id": 1, "project_title": get_settings().study_title,
        "creation_time": "", "production_time": "", "in_production": 1,
        "project_language": "English", "purpose": 2, "purpose_other": "",
        "project_notes": "Served by the OUTSIDER cohort data manager; record_id is the "
                         "participant's study code.",
        "custom_record_label": "", "secondary_unique_field": "",
        "is_longitudinal": 1, "has_repeating_instruments_or_events": 1,
        "surveys_enabled": 0, "scheduling_enabled": 0, "record_autonumbering_enabled": 1,
        "randomization_enabled": 0, "ddp_enabled": 0, "project_irb_number": "",
        "project_grant_number": "", "project_pi_firstname": "", "project_pi_lastname": "",
        "display_today_now_button": 1, "missing_data_codes": "", "external_modules": "",
        "bypass_branching_erase_field_prompt": 0,
    }
