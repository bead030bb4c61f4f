"""Exports for statisticians: CSV, Excel, Stata, SPSS and Parquet, long or wide.

Variable labels and value labels come from the data dictionary (Stata and SPSS files
carry them natively through pyreadstat; Excel gets ``variables`` and ``value_labels``
sheets; Parquet keeps them in its schema metadata). A codebook is written beside every
export, named after the full file name (``cohort.dta.codebook.csv``) so that two formats
of one stem do not overwrite each other's. Any field the dictionary marks as an
identifier is dropped, whatever the format, with every column derived from it
(:data:`SOURCE_FIELDS`: ``age`` takes ``age_at_inclusion``, ``study_group`` takes
``group``, ``group_itt``, ``group_pp``, ``intervention`` and ``contaminated``).
Free-text fields (``notes``, and ``text`` fields without a validation type, such as
``products_other``) are dropped too unless ``include_free_text=True`` (``cohort export
--include-free-text``): people write names and places into comment boxes despite the
reminder, and statisticians must get de-identified data. The codebook says which fields
were left out and why.

Shapes: ``long`` has one row per participant and questionnaire timepoint (participant
variables repeated); ``wide`` has one row per participant, questionnaire items suffixed
by timepoint (``share_syringe_m6``, one suffix per visit of the schedule). Checkbox
fields become REDCap-style 0/1 columns (``products___1``). Yes/no columns, derived ones
included (``in_window_m6``, ``per_protocol``), are 0/1 numbers with value labels and
blank when missing. In Stata and SPSS files ``group``, ``group_itt``, ``group_pp`` (1
intervention, 2 comparison: the dictionary's ``study_group`` codes) and ``timepoint`` (a
visit's protocol month: 0, 6, 12 for M0, M6, M12) are labelled numbers; CSV, Excel and
Parquet keep their words.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis import visits
from analysis.data import AnalysisData
from analysis.export_tables import derived_rows, spreadsheet_safe, write_history_tables

FORMATS = ("csv", "xlsx", "dta", "sav", "parquet")
# Columns of the analysis frames that are not dictionary fields, with the dictionary
# field(s) each is derived from: marking a field as an identifier drops these too.
SOURCE_FIELDS: dict[str, tuple[str, ...]] = {
    "age_at_inclusion": ("age",),
    "group": ("study_group",), "group_itt": ("study_group",), "group_pp": ("study_group",),
    "intervention": ("study_group",), "contaminated": ("study_group",),
    "first_valid_session": ("session_date",),
    "last_contact": ("visit_date", "session_date"),
}
# Derived yes/no and coded columns: exported as numbers with these value labels.
DERIVED_VALUE_LABELS: dict[str, dict[int | float, str]] = {
    **{name: {0: "No", 1: "Yes"} for name in (
        "in_window", "per_protocol", "contaminated", "valid_session_6m", "has_m0",
        "intervention")},
    "ltfu_event": {0: "Censored", 1: "Lost to follow-up"},
    "ltfu_outcome": {0: "Censored", 1: "Lost to follow-up", 2: "Died"},
}
# Stata and SPSS: these word columns become numbers with value labels (group codes are
# the dictionary's study_group codes; a timepoint's code is its month: stata_codes()).
STATA_CODES: dict[str, dict[str, int]] = {
    name: {"intervention": 1, "comparison": 2} for name in ("group", "group_itt", "group_pp")
}
SHAPES = ("long", "wide")
CHECKBOX_SEP = "___"


def stata_codes() -> dict[str, dict[str, int]]:
    """:data:`STATA_CODES` and the timepoint's: each visit's protocol month."""
    return {**STATA_CODES, "timepoint": visits.months()}


def _tp_suffix() -> re.Pattern[str]:
    """A column's visit suffix (``_m6``), for the schedule's visits."""
    keys = "|".join(re.escape(name.lower()) for name in visits.names())
    return re.compile(rf"_({keys})$")


@dataclass
class ExportResult:
    """The data file and what was written beside it."""

    path: Path
    codebook: Path
    variables: Path
    rows: int
    columns: list[str]
    dropped_identifiers: list[str] = field(default_factory=list)
    dropped_free_text: list[str] = field(default_factory=list)
    tables: list[Path] = field(default_factory=list)


def free_text_fields(dictionary: Any) -> set[str]:
    """Fields where people type what they like: ``notes``, and ``text`` with no validation."""
    return {name for name, f in dictionary.fields.items()
            if f.field_type == "notes" or (f.field_type == "text" and not f.validation)}


def _base_name(column: str) -> str:
    return _tp_suffix().sub("", column)


def source_fields(column: str) -> tuple[str, ...]:
    """The dictionary field(s) an exported column carries (``age_at_inclusion`` -> ``age``,
    ``share_syringe_m6`` -> ``share_syringe``, ``products___1`` -> ``products``)."""
    base = _base_name(column).split(CHECKBOX_SEP)[0]
    return SOURCE_FIELDS.get(base, (base,))


def _expand_checkboxes(df: pd.DataFrame, dictionary: Any) -> pd.DataFrame:
    """List-valued checkbox answers -> ``field___code`` 0/1 columns (missing stays missing;
    a missing-data code is written in each of the field's columns)."""
    out = df
    for name, f in dictionary.fields.items():
        if not f.is_checkbox or name not in out.columns:
            continue
        values = out[name]
        present = values.map(lambda v: isinstance(v, list))
        coded = values.map(lambda v: isinstance(v, str))
        cols: dict[str, Any] = {}
        for code in f.choices:
            ticked = values.map(lambda v, c=code: isinstance(v, list) and c in v)
            numbers = np.where(present, ticked.astype(float), np.nan)
            cols[f"{name}{CHECKBOX_SEP}{code}"] = (
                np.where(coded, values, numbers.astype(object)) if coded.any() else numbers)
        pos = out.columns.get_loc(name)
        out = out.drop(columns=[name])
        for i, (col, vals) in enumerate(cols.items()):
            out.insert(int(pos) + i, col, vals)
    return out


def _normalise(df: pd.DataFrame) -> pd.DataFrame:
    """Plain dtypes every writer accepts: floats for nullable numbers, str for objects."""
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if isinstance(s.dtype, pd.BooleanDtype) or s.dtype == bool:
            out[col] = s.astype(float)
        elif s.dtype == object and s.notna().any() and s.dropna().map(
                lambda v: isinstance(v, bool | np.bool_)).all():
            # yes/no with missing (in_window_m6 of someone without an M6): 0/1, blank.
            out[col] = s.map(lambda v: float(v) if isinstance(v, bool | np.bool_) else np.nan)
        elif pd.api.types.is_extension_array_dtype(s.dtype) and pd.api.types.is_numeric_dtype(
                s.dtype):
            out[col] = s.astype(float)
        elif s.dtype == object:
            out[col] = s.map(lambda v: None if v is None or (isinstance(v, float)
                                                               and np.isnan(v)) else
                             (json.dumps(v) if isinstance(v, list | dict) else str(v)))
    return out


def with_missing_codes(data: AnalysisData) -> AnalysisData:
    """The data with the project's missing-data codes written back where they were
    answered (the analysis frames hold NaN there): what an export shows."""
    codes = data.missing_codes
    if codes.empty:
        return data
    q = data.questionnaires.copy()
    parts = data.participants.copy()
    where = {key: i for i, key in enumerate(zip(q["participant_id"], q["timepoint"],
                                                 strict=True))}
    people = {pid: i for i, pid in enumerate(parts["participant_id"])}
    baseline = data.config.schedule.baseline.name
    for row in codes.itertuples(index=False):
        targets = [(q, where.get((row.participant_id, row.timepoint)), row.variable)]
        if row.timepoint == baseline:
            person = people.get(row.participant_id)
            targets += [(parts, person, row.variable), (parts, person, f"{row.variable}_m0")]
        for frame, position, column in targets:
            if position is None or column not in frame.columns:
                continue
            if frame[column].dtype != object:
                frame[column] = frame[column].astype(object)
            frame.iat[position, frame.columns.get_loc(column)] = row.code
    return replace(data, questionnaires=q, participants=parts)

def export_frame(data: AnalysisData, *, shape: str = "long", dictionary: Any | None = None,
                 include_free_text: bool = False) -> tuple[pd.DataFrame, list[str]]:
    """The frame an export writes, and the identifier (and free-text) columns dropped.
    Missing-data codes are written as answered (``UNK``…)."""
    if shape not in SHAPES:
        raise ValueError(f"unknown shape '{shape}'; use long or wide")
    if dictionary is None:
        import forms

        dictionary = forms.default_dictionary()
    data = with_missing_codes(data)
    identifiers = set(dictionary.identifier_fields())
    if not include_free_text:
        identifiers |= free_text_fields(dictionary)
    if shape == "long":
        df = data.long
        df = df.sort_values(["participant_id", "month"], kind="stable")
    else:
        df = _wide(data, dictionary)
    df = _expand_checkboxes(df, dictionary)
    dropped = [c for c in df.columns if set(source_fields(c)) & identifiers]
    df = df.drop(columns=dropped).reset_index(drop=True)
    return _normalise(df), dropped


def _wide(data: AnalysisData, dictionary: Any) -> pd.DataFrame:
    q = _expand_checkboxes(data.questionnaires, dictionary)
    keys = {"participant_id", "code", "centre_code", "group_itt", "timepoint", "month"}
    items = [c for c in q.columns if c not in keys]
    blocks = []
    for tp in visits.names(data.config.schedule):
        sub = q[q["timepoint"] == tp].set_index("participant_id")[items]
        sub = sub.dropna(axis=1, how="all")
        blocks.append(sub.add_suffix(f"_{tp.lower()}"))
    wide = pd.concat(blocks, axis=1)
    parts = data.participants
    drop = [c for c in parts.columns if c.endswith("_m0") and c in wide.columns]
    return parts.drop(columns=drop).merge(wide, left_on="participant_id", right_index=True,
                                          how="left")


def labels_for(columns: list[str], data: AnalysisData, dictionary: Any
               ) -> tuple[dict[str, str], dict[str, dict[int | float, str]]]:
    """Variable labels and (numeric-code) value labels for the exported columns."""
    var: dict[str, str] = {}
    val: dict[str, dict[int | float, str]] = {}
    for col in columns:
        base = _base_name(col)
        field_name, sep, code = base.partition(CHECKBOX_SEP)
        suffix = _tp_suffix().search(col)
        when = f" ({suffix.group(1).upper()})" if suffix else ""
        label = data.variable_labels.get(field_name) or data.variable_labels.get(col, "")
        if sep and field_name in dictionary.fields:
            label = f"{label}: {dictionary.fields[field_name].choices.get(code, code)}"
            val[col] = {1: "Checked", 0: "Unchecked"}
        elif field_name in DERIVED_VALUE_LABELS:
            val[col] = DERIVED_VALUE_LABELS[field_name]
        elif field_name in data.value_labels:
            choices = data.value_labels[field_name]
            try:
                val[col] = {int(k): v for k, v in choices.items()}
            except ValueError:
                pass
        var[col] = (label + when)[:255] if label else col
    return var, val


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


#: SPSS stores a missing-data code as a user-missing number: the project's first code is
#: -99991, the second -99992… (labelled with the code and its label).
SPSS_MISSING_BASE = -99990


def _coded_missing(df: pd.DataFrame, codes: dict[str, str], fmt: str
                   ) -> tuple[pd.DataFrame, dict[str, list[Any]], dict[str, dict[Any, str]]]:
    """Missing-data codes as Stata and SPSS keep them: Stata's extended missing values
    (``.a`` for the first code, ``.b``…), SPSS's user-missing numbers (``SPSS_MISSING_BASE``
    minus the code's rank). Returns the frame, the per-column missing values to declare,
    and value labels for the SPSS numbers."""
    order = list(codes)[:26]
    letters = {code: chr(ord("a") + i) for i, code in enumerate(order)}
    numbers = {code: float(SPSS_MISSING_BASE - i - 1) for i, code in enumerate(order)}
    out = df.copy()
    declared: dict[str, list[Any]] = {}
    labels: dict[str, dict[Any, str]] = {}
    for col in out.columns:
        if out[col].dtype != object:
            continue
        mask = out[col].map(lambda v: isinstance(v, str) and v in letters)
        if not mask.any():
            continue
        used = sorted(set(out[col][mask]), key=order.index)
        as_number = pd.to_numeric(out[col].where(~mask), errors="coerce")
        if fmt == "dta":
            out[col] = as_number.astype(object).where(~mask, out[col].map(letters))
            declared[col] = [letters[c] for c in used]
        else:
            out[col] = as_number.where(~mask, out[col].map(numbers)).astype(float)
            declared[col] = [numbers[c] for c in used]
            labels[col] = {numbers[c]: f"{c}: {codes[c]}" for c in used}
    return out, declared, labels


def _numeric_codes(df: pd.DataFrame, value_labels: dict[str, dict[int | float, str]],
                   kept: dict[str, list[Any]] | None = None) -> pd.DataFrame:
    """Stata and SPSS attach value labels to numbers: turn '1'/'2' codes into 1.0/2.0.

    A value that is not a number is refused, never turned into a blank: a silently
    emptied column (words where codes were expected) is worse than no export. ``kept``
    are the values to leave as they are (Stata's extended missing letters).
    """
    out = df.copy()
    kept = kept or {}
    for col in value_labels:
        if col not in out.columns or out[col].dtype != object:
            continue
        letters = set(kept.get(col, ()))
        numbers = pd.to_numeric(out[col].where(~out[col].isin(letters)), errors="coerce")
        if letters:
            out[col] = numbers.astype(object).where(~out[col].isin(letters), out[col])
            continue
        bad = out[col][numbers.isna() & out[col].notna()]
        if len(bad):
            sample = ", ".join(repr(v) for v in sorted(set(map(str, bad)))[:5])
            raise ValueError(
                f"column '{col}' holds {sample} where the dictionary's codes "
                f"({', '.join(str(k) for k in value_labels[col])}) were expected; the "
                "values would be lost in Stata/SPSS. Map them to their codes before "
                "exporting (analysis.data does this for the enrolment choices).")
        out[col] = numbers
    return out


def _stata_codes(df: pd.DataFrame, val_labels: dict[str, dict[int | float, str]],
                 data: AnalysisData) -> tuple[pd.DataFrame,
                                              dict[str, dict[int | float, str]]]:
    """Stata and SPSS: group and timepoint words become labelled numbers (:func:`stata_codes`),
    so ``i.group_itt`` or a crosstab works without ``encode``; other formats keep words."""
    out = df.copy()
    labels = dict(val_labels)
    study_group = {int(k): v for k, v in data.value_labels.get("study_group", {}).items()}
    all_codes = stata_codes()
    for col in out.columns:
        codes = all_codes.get(_base_name(col))
        if codes is None or out[col].dtype != object:
            continue
        unknown = sorted(set(out[col].dropna()) - set(codes))
        if unknown:
            raise ValueError(f"column '{col}' holds {', '.join(map(repr, unknown))}; "
                             f"expected one of {', '.join(codes)}")
        out[col] = out[col].map(codes).astype(float)
        words = {code: word for word, code in codes.items()}
        is_group = _base_name(col).startswith("group")
        labels[col] = {c: study_group.get(c, words[c]) if is_group else words[c]
                       for c in codes.values()}
    return out, labels


def _codebook(dictionary: Any, columns: list[str], dropped_identifiers: list[str],
              dropped_free_text: list[str]) -> pd.DataFrame:
    """The dictionary's codebook plus whether and how each field is in this export."""
    rows = pd.DataFrame(dictionary.codebook_rows())
    exported = {f for c in columns for f in source_fields(c)}
    free = {f for c in dropped_free_text for f in source_fields(c)}
    ident = {f for c in dropped_identifiers for f in source_fields(c)}

    def status(name: str) -> str:
        if name in ident:
            return "no: identifier, never exported"
        if name in free:
            return ("no: free text, left out so the data stay de-identified (a data manager "
                    "can add it with cohort export --include-free-text)")
        return "yes" if name in exported else "no: not in these records"

    rows["in_this_export"] = rows["variable"].map(status)
    return rows


def _value_label_rows(val_labels: dict[str, dict[int | float, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"variable": col, "code": code, "label": label}
         for col, labels in val_labels.items() for code, label in labels.items()],
        columns=["variable", "code", "label"])


def export(data: AnalysisData, path: Path, *, fmt: str | None = None, shape: str = "long",
           dictionary: Any | None = None, include_free_text: bool = False) -> ExportResult:
    """Write the cohort to ``path`` in ``fmt`` (default: from the file's suffix).

    Free-text fields are left out unless ``include_free_text`` (for the data manager,
    who may read them; never for statisticians).
    """
    import forms

    path = Path(path)
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format '{fmt}'; use one of {', '.join(FORMATS)}")
    dictionary = dictionary or forms.default_dictionary()
    df, dropped = export_frame(data, shape=shape, dictionary=dictionary,
                               include_free_text=include_free_text)
    free = free_text_fields(dictionary)
    dropped_free = [c for c in dropped if set(source_fields(c)) & free]
    dropped_ids = [c for c in dropped if c not in dropped_free]
    var_labels, val_labels = labels_for(list(df.columns), data, dictionary)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        # RFC 4180 line ends: the csv module then quotes any value holding a carriage
        # return or a newline, so a note with a line break stays one field.
        spreadsheet_safe(df).to_csv(path, index=False, lineterminator="\r\n")
    elif fmt == "xlsx":
        variables = pd.DataFrame({"variable": list(var_labels), "label": list(var_labels.values())})
        with pd.ExcelWriter(path, engine="openpyxl") as writer:
            spreadsheet_safe(df).to_excel(writer, sheet_name="data", index=False)
            spreadsheet_safe(variables).to_excel(writer, sheet_name="variables", index=False)
            spreadsheet_safe(_value_label_rows(val_labels)).to_excel(
                writer, sheet_name="value_labels", index=False)
    elif fmt in ("dta", "sav"):
        import pyreadstat

        numeric, val_labels = _stata_codes(df, val_labels, data)
        numeric, declared, code_labels = _coded_missing(numeric, dictionary.missing_codes, fmt)
        for col, extra in code_labels.items():
            val_labels[col] = {**val_labels.get(col, {}), **extra}
        numeric = _numeric_codes(numeric, val_labels, declared if fmt == "dta" else None)
        limit = 80 if fmt == "dta" else 255  # Stata's and SPSS's variable-label limits
        labels: list[str | None] = [_shorten(var_labels[c], limit) for c in numeric.columns]
        if fmt == "dta":
            pyreadstat.write_dta(numeric, str(path), column_labels=labels,
                                 variable_value_labels=val_labels, version=15,
                                 missing_user_values=declared or None)
        else:
            pyreadstat.write_sav(numeric, str(path), column_labels=labels,
                                 variable_value_labels=val_labels,
                                 missing_ranges=declared or None)
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(df, preserve_index=False)
        meta = dict(table.schema.metadata or {})
        meta[b"variable_labels"] = json.dumps(var_labels, ensure_ascii=False).encode()
        meta[b"value_labels"] = json.dumps(
            {k: {str(c): v for c, v in m.items()} for k, m in val_labels.items()},
            ensure_ascii=False).encode()
        meta[b"snapshot"] = json.dumps(data.snapshot.as_dict()).encode()
        pq.write_table(table.replace_schema_metadata(meta), path)
    codebook = path.with_name(f"{path.name}.codebook.csv")
    spreadsheet_safe(pd.concat(
        [_codebook(dictionary, list(df.columns), dropped_ids, dropped_free),
         derived_rows(data, list(df.columns))], ignore_index=True)).to_csv(codebook, index=False)
    tables = write_history_tables(data, path, fmt)
    variables_path = path.with_name(f"{path.name}.variables.csv")
    spreadsheet_safe(pd.DataFrame({
        "variable": list(var_labels), "label": list(var_labels.values()),
        "values": [" | ".join(f"{k}, {v}" for k, v in val_labels.get(c, {}).items())
                   for c in var_labels],
    })).to_csv(variables_path, index=False)
    return ExportResult(path, codebook, variables_path, len(df), list(df.columns), dropped_ids,
                        dropped_free, tables)
