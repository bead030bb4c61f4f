"""The fast row reader gives exactly what openpyxl's read-only ``iter_rows`` gives."""

from __future__ import annotations

import shutil
from datetime import date, datetime, time
from io import BytesIO
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from openpyxl.cell.rich_text import CellRichText, TextBlock
from openpyxl.cell.text import InlineFont

from cohort.excel.fastrows import rows


def _trim(values: tuple[object, ...]) -> tuple[object, ...]:
    out = list(values)
    while out and out[-1] is None:
        out.pop()
    return tuple(out)


def _same(data: bytes) -> None:
    book = load_workbook(BytesIO(data), read_only=True, data_only=True)
    for ws in book.worksheets:
        expected = [_trim(r) for r in ws.iter_rows(values_only=True)]
        got = [_trim(r) for r in rows(ws)]
        while expected and not expected[-1]:
            expected.pop()
        while got and not got[-1]:
            got.pop()
        assert got == expected, ws.title
    book.close()


def _mixed() -> bytes:
    book = Workbook()
    ws = book.active
    assert ws is not None
    ws.append(["text ", 12, 3.5, True, False, None, "=1+1", "1 = Yes"])
    ws.append([date(2026, 3, 31), datetime(2026, 3, 31, 14, 30), time(9, 15), "31/03/2026"])
    ws["F7"] = "after a gap"
    ws["AB9"] = 45000
    ws["AB9"].number_format = "yyyy-mm-dd"
    ws["C9"] = -0.25
    ws["D9"] = "é, ü and a newline\nhere"
    ws["G9"] = CellRichText(["plain ", TextBlock(InlineFont(b=True), "bold")])
    ws["H9"] = ""
    other = book.create_sheet("second")
    other["A1"] = "x"
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def test_values_of_every_type_match_openpyxl() -> None:
    _same(_mixed())


@pytest.mark.libreoffice
@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
def test_a_file_saved_by_libreoffice_matches_openpyxl(tmp_path: Path) -> None:
    from tests.excel.test_libreoffice import _through_libreoffice

    _same(_through_libreoffice(_mixed(), tmp_path))
