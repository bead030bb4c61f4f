"""No export carries a live formula: OWASP's payloads through every writer of CSV or xlsx
cells, each output read back (``forms.safe_cells``). Stata, SPSS and Parquet keep the
exact text."""

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import load_workbook
from sqlmodel import Session

from analysis.data import AnalysisData
from analysis.export import export
from cohort.excel.annotate import annotate
from cohort.excel.layout import Kind
from cohort.excel.reader import Problem
from cohort.excel.report import build_report
from cohort.excel.templates import template_bytes
from cohort.models import Centre
from cohort.vocab import Role, Timepoint
from forms.codebook import to_csv
from forms.safe_cells import is_formula_like, neutralise
from tests.factories import Factory

PAYLOADS = ["=1+1", "+1+2", "-2+3+cmd|' /C calc'!A0", "@SUM(1,2)", "\t=1+1", "\r=1+1",
            '=HYPERLINK("http://example.invalid","click")']


def _safe(value: object) -> bool:
    """A cell read back is safe when it is not formula-like text."""
    return not (isinstance(value, str) and is_formula_like(value))


# XML reads a carriage return back as a newline.
IN_XLSX = {"'" + p.replace("\r", "\n") for p in PAYLOADS}


def _xlsx_cells(data: bytes) -> list[Any]:
    book = load_workbook(io.BytesIO(data))  # not data_only: a formula would show as '=…'
    cells = []
    for ws in book.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{ws.title}!{cell.coordinate} is a formula"
                cells.append(cell.value)
    return cells


def test_the_rule() -> None:
    for payload in PAYLOADS:
        assert neutralise(payload) == "'" + payload
    for kept in ["Lyon", "-1", "+33.5", "1e-3", "", "a=b", 12, -3.5, None, date(2026, 1, 1)]:
        assert neutralise(kept) == kept


def test_csv_and_xlsx_exports_neutralise_free_text(demo_data: AnalysisData,
                                                   tmp_path: Path) -> None:
    notes = (PAYLOADS * (len(demo_data.questionnaires) // len(PAYLOADS) + 1))
    q = demo_data.questionnaires.assign(
        questionnaire_note=notes[:len(demo_data.questionnaires)])
    data = dataclasses.replace(demo_data, questionnaires=q)
    written = export(data, tmp_path / "x.csv", include_free_text=True)
    with written.path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    shown = {row["questionnaire_note"] for row in rows}
    assert shown == {"'" + p for p in PAYLOADS}
    for path in (written.codebook, written.variables):
        with path.open(encoding="utf-8", newline="") as handle:
            assert all(_safe(v) for row in csv.reader(handle) for v in row)
    book = export(data, tmp_path / "x.xlsx", include_free_text=True)
    cells = _xlsx_cells(book.path.read_bytes())
    assert IN_XLSX <= set(cells)
    assert all(_safe(v) for v in cells)
    for fmt in ("dta", "parquet", "sav"):  # not spreadsheets: the exact text
        out = export(data, tmp_path / f"x.{fmt}", include_free_text=True).path
        if fmt == "parquet":
            back = pd.read_parquet(out)
        else:
            import pyreadstat

            back = (pyreadstat.read_dta if fmt == "dta" else pyreadstat.read_sav)(str(out))[0]
        assert set(back["questionnaire_note"]) >= {p.strip() if fmt != "parquet" else p
                                                   for p in PAYLOADS[:4]}


def test_excel_report_neutralises_centre_names(session: Session, factory: Factory) -> None:
    for index, payload in enumerate(PAYLOADS):
        centre = factory.centre(f"C{70 + index}")
        centre.name = payload
        session.add(centre)
    session.commit()
    officer = factory.actor(factory.staff(role=Role.ADMIN, national=True))
    data = build_report(session, actor=officer, as_of=factory.today)
    cells = _xlsx_cells(data)
    assert IN_XLSX <= set(cells)
    assert all(_safe(v) for v in cells)
    assert session.get(Centre, centre.id) is not None


def test_templates_neutralise_stored_text() -> None:
    data = template_bytes(Kind.QUESTIONNAIRE, "=1+1", Timepoint("M6"), PAYLOADS, date(2026, 3, 1))
    cells = _xlsx_cells(data)
    assert IN_XLSX <= set(cells)  # pre-filled codes
    assert "'=1+1" in cells  # the centre, in the hidden _meta sheet
    assert all(_safe(v) for v in cells)


def test_annotated_copies_neutralise_what_was_typed() -> None:
    out = io.StringIO()
    csv.writer(out).writerows([["record_id", "redcap_event_name", "session_note"],
                               *[["1", "m0_arm_1", p] for p in PAYLOADS]])
    text = out.getvalue()
    problem = Problem("records", 2, "C", "session_note", "import.refused", PAYLOADS[0])
    copy = annotate(text.encode(), [problem], csv_name="records.csv")
    cells = _xlsx_cells(copy)
    assert IN_XLSX <= set(cells)
    assert all(_safe(v) for v in cells)


def test_csv_codebook_neutralises_labels() -> None:
    rows = [{"variable": "x", "label": p} for p in PAYLOADS]
    read = list(csv.DictReader(io.StringIO(to_csv(rows))))
    assert [r["label"] for r in read] == ["'" + p for p in PAYLOADS]
