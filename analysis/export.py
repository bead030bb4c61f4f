"""Exports for statisticians: CSV, Excel, Stata, SPSS and Parquet, long or wide.

Variable labels and value labels come from the data dictionary (Stata and SPSS files
carry them natively through pyreadstat; Excel gets a ``variables`` sheet; Parquet keeps
them in its schema metadata). A codebook is written beside every export. Any field the
dictionary marks as an identifier is dropped, whatever the format.

Shapes: ``long`` has one row per participant and questionnaire timepoint (participant
variables repeated); ``wide`` has one row per participant, questionnaire items suffixed
by timepoint (``share_syringe_m6``). Checkbox fields become REDCap-style 0/1 columns
(``products___1``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.data import TIMEPOINTS, AnalysisData

FORMATS = ("csv", "xlsx", "dta", "sav", "parquet")
SHAPES = ("long", "wide")
CHECKBOX_SEP = "___"
_TP_SUFFIX = re.compile(r"_(m0|m6|m12)$")


@dataclass
class ExportResult:
    """The data file and what was written beside it."""

    path: Path
    codebook: Path
    variables: Path
    rows: int
    columns: list[str]
    dropped_identifiers: list[str] = field(default_factory=list)


def _base_name(column: str) -> str:
    return _TP_SUFFIX.sub("", column)


def _expand_checkboxes(df: pd.DataFrame, dictionary: Any) -> pd.DataFrame:
    """List-valued checkbox answers -> ``field___code`` 0/1 columns (missing stays missing)."""
    out = df
    for name, f in dictionary.fields.items():
        if not f.is_checkbox or name not in out.columns:
            continue
        values = out[name]
        present = values.map(lambda v: isinstance(v, list))
        cols = {}
        for code in f.choices:
            ticked = values.map(lambda v, c=code: isinstance(v, list) and c in v)
            cols[f"{name}{CHECKBOX_SEP}{code}"] = np.where(present, ticked.astype(float),
                                                            np.nan)
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
        elif pd.api.types.is_extension_array_dtype(s.dtype) and pd.api.types.is_numeric_dtype(
                s.dtype):
            out[col] = s.astype(float)
        elif s.dtype == object:
            out[col] = s.map(lambda v: None if v is None or (isinstance(v, float)
                                                               and np.isnan(v)) else
                             (json.dumps(v) if isinstance(v, list | dict) else str(v)))
    return out


def export_frame(data: AnalysisData, *, shape: str = "long",
                 dictionary: Any | None = None) -> tuple[pd.DataFrame, list[str]]:
    """The frame an export writes, and the identifier columns that were dropped."""
    if shape not in SHAPES:
        raise ValueError(f"unknown shape '{shape}'; use long or wide")
    if dictionary is None:
        import forms

        dictionary = forms.default_dictionary()
    identifiers = set(dictionary.identifier_fields())
    if shape == "long":
        df = data.long
        df = df.sort_values(["participant_id", "month"], kind="stable")
    else:
        df = _wide(data, dictionary)
    df = _expand_checkboxes(df, dictionary)
    dropped = [c for c in df.columns if _base_name(c).split(CHECKBOX_SEP)[0] in identifiers]
    df = df.drop(columns=dropped).reset_index(drop=True)
    return _normalise(df), dropped


def _wide(data: AnalysisData, dictionary: Any) -> pd.DataFrame:
    q = _expand_checkboxes(data.questionnaires, dictionary)
    keys = {"participant_id", "code", "centre_code", "group_itt", "timepoint", "month"}
    items = [c for c in q.columns if c not in keys]
    blocks = []
    for tp in TIMEPOINTS:
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
        suffix = _TP_SUFFIX.search(col)
        when = f" ({suffix.group(1).upper()})" if suffix else ""
        label = data.variable_labels.get(field_name) or data.variable_labels.get(col, "")
        if sep and field_name in dictionary.fields:
            label = f"{label}: {dictionary.fields[field_name].choices.get(code, code)}"
            val[col] = {1: "Checked", 0: "Unchecked"}
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


def _numeric_codes(df: pd.DataFrame, value_labels: dict[str, dict[int | float, str]]
                   ) -> pd.DataFrame:
    """Stata and SPSS attach value labels to numbers: turn '1'/'2' codes into 1.0/2.0."""
    out = df.copy()
    for col in value_labels:
        if col in out.columns and out[col].dtype == object:
            out[col] = pd.to_numeric(out[col], errors="coerce")
    return out


def export(data: AnalysisData, path: Path, *, fmt: str | None = None, shape: str = "long",
           dictionary: Any | None = None) -> ExportResult:
    """Write the cohort to ``path`` in ``fmt`` (default: from the file's suffix)."""
    import forms

    path = Path(path)
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format '{fmt}'; use one of {', '.join(FORMATS)}")
    dictionary = dictionary or forms.default_dictionary()
    df, dropped = export_frame(data, shape=shape, dictionary=dictionary)
    var_labels, val_labels = labels_for(list(df.columns), data, dictionary)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        df.to_csv(path, index=False)
    elif fmt == "xlsx":
        variables = pd.DataFrame({"variable": list(var_labels), "label": list(var_labels.values())})
        with pd.ExcelWriter(path, engine="openpyxl") as writer:
            df.to_excel(writer, sheet_name="data", index=False)
            variables.to_excel(writer, sheet_name="variables", index=False)
    elif fmt in ("dta", "sav"):
        import pyreadstat

        numeric = _numeric_codes(df, val_labels)
        limit = 80 if fmt == "dta" else 255  # Stata's and SPSS's variable-label limits
        labels: list[str | None] = [_shorten(var_labels[c], limit) for c in numeric.columns]
        if fmt == "dta":
            pyreadstat.write_dta(numeric, str(path), column_labels=labels,
                                 variable_value_labels=val_labels, version=15)
        else:
            pyreadstat.write_sav(numeric, str(path), column_labels=labels,
                                 variable_value_labels=val_labels)
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
    codebook = path.with_name(f"{path.stem}_codebook.csv")
    codebook.write_text(dictionary.codebook_csv(), encoding="utf-8")
    variables_path = path.with_name(f"{path.stem}_variables.csv")
    pd.DataFrame({
        "variable": list(var_labels), "label": list(var_labels.values()),
        "values": [" | ".join(f"{k}, {v}" for k, v in val_labels.get(c, {}).items())
                   for c in var_labels],
    }).to_csv(variables_path, index=False)
    return ExportResult(path, codebook, variables_path, len(df), list(df.columns), dropped)
