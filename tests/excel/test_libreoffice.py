"""A template opened and saved by LibreOffice (Debian's libreoffice-calc) still imports."""

from __future__ import annotations

import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from cohort.excel.importer import import_file
from cohort.excel.layout import META_SHEET, Kind
from cohort.excel.templates import build_template
from cohort.models import Questionnaire
from cohort.vocab import Timepoint
from tests.excel.conftest import Site
from tests.excel.helpers import as_cells, columns, entry_sheet, fill, load, row_of, save
from tests.factories import Factory, questionnaire_answers

pytestmark = [
    pytest.mark.libreoffice,
    pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed"),
]


def _through_libreoffice(data: bytes, tmp_path: Path) -> bytes:
    source = tmp_path / "in" / "filled.xlsx"
    source.parent.mkdir()
    source.write_bytes(data)
    out = tmp_path / "out"
    profile = tmp_path / "profile"
    subprocess.run(  # noqa: S603
        ["soffice", f"-env:UserInstallation=file://{profile}", "--headless",  # noqa: S607
         "--convert-to", "xlsx", "--outdir", str(out), str(source)],
        check=True, capture_output=True, timeout=180)
    return (out / "filled.xlsx").read_bytes()


def test_a_template_saved_by_libreoffice_imports(
        factory: Factory, site: Site, tmp_path: Path) -> None:
    data, _ = build_template(factory.session, actor=site.worker, kind=Kind.QUESTIONNAIRE,
                             centre_code="C04", timepoint=Timepoint("M6"), as_of=factory.today)
    book = load(data)
    ws = entry_sheet(book)
    visit = factory.today - timedelta(days=3)
    first, second, _ = site.due
    fill(ws, row_of(ws, first.code), as_cells(questionnaire_answers(visit, Timepoint("M6"))))
    answers = questionnaire_answers(visit, Timepoint("M6"), inj_freq="4 = Once a day")
    answers["visit_date"] = visit.strftime("%d/%m/%Y")
    fill(ws, row_of(ws, second.code), as_cells(answers))
    ws.cell(row_of(ws, first.code), columns(ws)["visit_date"]).value = visit  # a date cell

    converted = _through_libreoffice(save(book), tmp_path)
    assert META_SHEET in load(converted).sheetnames
    kept = entry_sheet(load(converted)).data_validations.dataValidation
    # LibreOffice keeps the warning style: a typed answer number is not refused there either
    assert {dv.errorStyle for dv in kept if dv.type == "list"} == {"warning"}

    report = import_file(factory.session, actor=site.worker, data=converted,
                         filename="filled.xlsx", on=factory.today)
    assert report.problems == [] and report.written == 2
    stored = factory.session.exec(select(Questionnaire).where(
        Questionnaire.timepoint == Timepoint("M6"))).all()
    assert {q.visit_date for q in stored} == {visit}
    assert {q.answers["inj_freq"] for q in stored} == {"3", "4"}
