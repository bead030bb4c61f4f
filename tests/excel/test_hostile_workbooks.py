"""Workbooks built to hurt (issue 11, class 5): each is refused with a clear message, on the
command line (exit 2, one line, no traceback) and on the web (422 page), before its sheets
are parsed where the zip's headers tell, and nothing is written.

Sizes here are scaled down through ``WorkbookLimits``; ``bench/bench_workbook_limits.py``
measures the full-size ones (peak memory and time)."""

from __future__ import annotations

import io
import zipfile
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cohort.excel.guard import WorkbookLimits, WorkbookRefused, check_workbook
from cohort.excel.layout import Kind
from cohort.excel.reader import WorkbookUnreadable, read_workbook
from cohort.excel.redcap import read_records
from cohort.excel.templates import template_bytes
from cohort.vocab import Timepoint
from tests.api.conftest import World
from tests.api.test_api_pages import csrf, sign_in

ENTRY = "xl/worksheets/sheet2.xml"
LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
          b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
          b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>')
SMALL = WorkbookLimits(max_bytes=2_000_000, max_xml_bytes=3_000_000, max_rows=200,
                       max_columns=300)


def template() -> bytes:
    return template_bytes(Kind.QUESTIONNAIRE, "C01", Timepoint("M6"), ["C01-0001-X"],
                          date(2026, 3, 1))


def replaced(data: bytes, name: str, content: bytes | None = None,
             extra: dict[str, bytes] | None = None) -> bytes:
    """``data`` with one part's content replaced (or parts added)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            body = source.read(info)
            if info.filename == name and content is not None:
                body = content
            target.writestr(info.filename, body)
        for extra_name, body in (extra or {}).items():
            target.writestr(extra_name, body)
    return out.getvalue()


def sheet_with(rows: bytes, dimension: bytes = b"") -> bytes:
    return (b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.'
            b'openxmlformats.org/spreadsheetml/2006/main">' + dimension + b"<sheetData>"
            + rows + b"</sheetData></worksheet>")


def entry_rows() -> bytes:
    """The template's two header rows, so that the sheet is an entry sheet."""
    xml = zipfile.ZipFile(io.BytesIO(template())).read(ENTRY)
    start = xml.index(b"<row ")
    return xml[start:xml.index(b'<row r="3"')]


def hostile() -> dict[str, bytes]:
    base = template()
    return {
        "row numbered nan": replaced(base, ENTRY, sheet_with(
            entry_rows() + b'<row r="nan"><c r="A3" t="inlineStr"><is><t>x</t></is></c></row>')),
        "row numbered 2,000,000,000": replaced(base, ENTRY, sheet_with(
            entry_rows() + b'<row r="2000000000"><c r="A2000000000" t="inlineStr"><is><t>x'
            b"</t></is></c></row>")),
        "billion laughs": replaced(base, ENTRY, LAUGHS + sheet_with(entry_rows())[38:]),
        "entity in workbook.xml": replaced(base, "xl/workbook.xml", LAUGHS + b"<workbook/>"),
        "dimension to the last cell": replaced(base, ENTRY, sheet_with(
            entry_rows(), b'<dimension ref="A1:XFD1048576"/>')),
        "a column past XFD": replaced(base, ENTRY, sheet_with(
            entry_rows() + b'<row r="3"><c r="AAAAA3" t="inlineStr"><is><t>x</t></is></c>'
            b"</row>")),
        "too many rows": replaced(base, ENTRY, sheet_with(entry_rows() + b"".join(
            b'<row r="%d"><c r="A%d" t="inlineStr"><is><t>C01-0001-X</t></is></c></row>'
            % (n, n) for n in range(3, 400)))),
        "expands past the limit": replaced(base, "xl/worksheets/sheet9.xml", None,
                                           {"xl/media/padding.bin": b" " * 3_500_000}),
    }


@pytest.mark.parametrize("name", list(hostile()))
def test_hostile_workbooks_are_refused_before_harm(name: str) -> None:
    data = hostile()[name]
    with pytest.raises((WorkbookRefused, WorkbookUnreadable)) as refused:
        read_workbook(data, SMALL)
    assert "Traceback" not in refused.value.message and len(refused.value.message) < 400


def test_header_checks_need_no_parsing() -> None:
    """A part whose header says 3.5 MB is refused from the zip's directory alone."""
    with pytest.raises(WorkbookRefused, match="once decompressed"):
        check_workbook(hostile()["expands past the limit"], SMALL)


def test_an_ordinary_template_passes_the_checks() -> None:
    check_workbook(template(), SMALL)
    assert read_workbook(template(), SMALL).rows == []


@pytest.mark.parametrize("text", [
    "record_id,redcap_event_name\n1,m0_arm_1\x00\n",
    'record_id,redcap_event_name\n1,"' + "x" * 200_000 + '"\n',
])
def test_broken_csv_exports_are_refused(text: str) -> None:
    with pytest.raises(WorkbookUnreadable):
        read_records(text.encode(), name="records.csv")


def test_the_command_line_answers_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              settings_env: None) -> None:
    from cohort.cli.main import app
    from cohort.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("COHORT_DATABASE_URL", url)
    monkeypatch.setenv("COHORT_WORKBOOK_MAX_ROWS", str(SMALL.max_rows))
    monkeypatch.setenv("COHORT_WORKBOOK_MAX_XML_BYTES", str(SMALL.max_xml_bytes))
    upgrade(url)
    for name, data in hostile().items():
        path = tmp_path / "hostile.xlsx"
        path.write_bytes(data)
        result = CliRunner().invoke(app, ["import", str(path), "--as", "1"])
        assert result.exit_code == 2, (name, result.output)
        assert "Traceback" not in result.output and len(result.output.splitlines()) <= 2, name
        assert "staff member" not in result.output, name  # refused before it looked for --as


def test_the_web_answers_422(client: TestClient, world: World,
                             monkeypatch: pytest.MonkeyPatch, settings_env: None) -> None:
    monkeypatch.setenv("COHORT_WORKBOOK_MAX_ROWS", str(SMALL.max_rows))
    monkeypatch.setenv("COHORT_WORKBOOK_MAX_XML_BYTES", str(SMALL.max_xml_bytes))
    sign_in(client, "worker.a")
    token = csrf(client.get("/workbooks").text)
    for name, data in hostile().items():
        response = client.post("/workbooks/import", data={"csrf_token": token},
                               files={"file": ("hostile.xlsx", data, "application/zip")})
        assert response.status_code == 422, (name, response.text[:300])


def test_a_large_workbook_is_annotated_as_a_streamed_copy(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Past EDIT_IN_PLACE_BYTES the annotated copy is written row by row: Summary first,
    every value, the marks, hidden sheets still hidden, and it reads back as an entry
    workbook."""
    from openpyxl import load_workbook

    from cohort.excel import annotate as module
    from cohort.excel.reader import Problem

    monkeypatch.setattr(module, "EDIT_IN_PLACE_BYTES", 0)
    data = template()
    title = read_workbook(data).layouts[0].title
    problem = Problem(title, 3, "B", "visit_date", "dictionary.invalid", "=not a date")
    copy = module.annotate(data, [problem])
    book = load_workbook(io.BytesIO(copy))
    assert book.sheetnames[0] == "Summary"
    assert book["Summary"]["G2"].value == "'=not a date"
    cell = book[title]["B3"]
    assert cell.fill.fgColor.rgb.endswith("FF9999") and "not a date" in cell.comment.text
    assert book[title]["A3"].value == "C01-0001-X"
    assert book["_meta"].sheet_state == "hidden"
    assert read_workbook(copy).layouts[0].title == title
