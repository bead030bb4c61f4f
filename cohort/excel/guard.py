"""A workbook's limits, checked before any of its sheets is parsed.

An .xlsx file is a zip of XML parts. Everything that makes one dangerous to read is
visible before parsing: how big it says each part is once decompressed (the zip's own
headers: Python's zipfile never inflates a part past the size its header gives), how
many parts and sheets it has, a sheet's declared ``<dimension>``, how many ``<row>``
elements its XML holds, and any ``<!DOCTYPE`` or ``<!ENTITY`` (the "billion laughs" and
external-entity attacks; openpyxl also parses through defusedxml, a second wall).
``check_workbook`` streams every XML part once, in chunks, to count rows and look for
those declarations, so a refused file costs a bounded amount of memory and time, and an
accepted one is known to fit in memory (``WorkbookLimits``, from the settings; the README's
"Limits" section states them). Rows numbered past the limit are refused again while the
sheet is read (``cohort.excel.fastrows``), since a row's number is not a header.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from io import BytesIO

from openpyxl.utils import column_index_from_string

from cohort.errors import CohortError
from cohort.messages import msg
from cohort.settings import get_settings
from forms.i18n import _, format_decimal

#: Rows a template adds past its participants (headers and empty entry rows).
ROW_SLACK = 100
MAX_PARTS = 500
MAX_SHEETS = 50
MAX_SHARED_STRINGS_BYTES = 16 * 1024 * 1024
CHUNK = 1024 * 1024
_XML_SUFFIXES = (".xml", ".rels", ".vml")
_ROW = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row[\s/>]")
_DECLARATION = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_DIMENSION = re.compile(
    rb"<(?:[A-Za-z_][\w.-]*:)?dimension\s+ref=\"\$?([A-Z]{1,4})?\$?(\d{1,12})?"
    rb"(?::\$?([A-Z]{1,4})\$?(\d{1,12}))?\"")


class WorkbookRefused(CohortError):
    """The file is over a limit, or holds what no workbook of ours needs (a DOCTYPE)."""


@dataclass(frozen=True)
class WorkbookLimits:
    max_bytes: int
    max_xml_bytes: int
    max_rows: int
    max_columns: int
    max_shared_strings_bytes: int = MAX_SHARED_STRINGS_BYTES
    max_parts: int = MAX_PARTS
    max_sheets: int = MAX_SHEETS

    @property
    def max_row_number(self) -> int:
        """The highest row number a sheet may use (rows plus a template's own rows)."""
        return self.max_rows + ROW_SLACK


def workbook_limits() -> WorkbookLimits:
    s = get_settings()
    return WorkbookLimits(max_bytes=s.max_upload_bytes, max_xml_bytes=s.workbook_max_xml_bytes,
                          max_rows=s.workbook_max_rows, max_columns=s.workbook_max_columns)


def _mb(size: int) -> str:
    """A size in megabytes, the reader's way (« 12 Mo »)."""
    return _("{size} MB").format(size=format_decimal(size / (1024 * 1024), 0))


def check_size(size: int, limits: WorkbookLimits | None = None) -> None:
    limits = limits or workbook_limits()
    if size > limits.max_bytes:
        raise WorkbookRefused(msg("workbook.file_too_big", size=_mb(size),
                                  limit=_mb(limits.max_bytes)))


def check_workbook(data: bytes, limits: WorkbookLimits | None = None) -> None:
    """Refuse (``WorkbookRefused``) a workbook over a limit, before any sheet is parsed.

    A file that is not a zip is left to the reader, which says so in its own words."""
    limits = limits or workbook_limits()
    check_size(len(data), limits)
    try:
        book = zipfile.ZipFile(BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError):
        return
    with book:
        parts = book.infolist()
        if len(parts) > limits.max_parts:
            raise WorkbookRefused(msg("workbook.too_many_parts", parts=len(parts),
                                      limit=limits.max_parts))
        sheets = [p for p in parts if p.filename.lower().startswith("xl/worksheets/")
                  and p.filename.lower().endswith(".xml")]
        if len(sheets) > limits.max_sheets:
            raise WorkbookRefused(msg("workbook.too_many_sheets", sheets=len(sheets),
                                      limit=limits.max_sheets))
        total = sum(p.file_size for p in parts)
        if total > limits.max_xml_bytes:
            raise WorkbookRefused(
                msg("workbook.too_big_decompressed", size=_mb(total),
                    limit=_mb(limits.max_xml_bytes)))
        for part in parts:
            if part.filename.lower().endswith("sharedstrings.xml") \
                    and part.file_size > limits.max_shared_strings_bytes:
                raise WorkbookRefused(
                    msg("workbook.text_too_big", size=_mb(part.file_size),
                        limit=_mb(limits.max_shared_strings_bytes)))
        rows = 0
        for part in parts:
            if part.filename.lower().endswith(_XML_SUFFIXES):
                rows += _scan(book, part, part in sheets, limits, rows)


def _scan(book: zipfile.ZipFile, part: zipfile.ZipInfo, is_sheet: bool,
          limits: WorkbookLimits, rows_so_far: int) -> int:
    """Stream one part: refuse declarations; for a sheet, its dimension and row count."""
    rows = 0
    tail = b""
    first = True
    try:
        with book.open(part) as stream:
            while chunk := stream.read(CHUNK):
                window = tail + chunk
                if _DECLARATION.search(window):
                    raise WorkbookRefused(
                        msg("workbook.doctype", part=part.filename))
                if is_sheet:
                    if first:
                        _check_dimension(window, part.filename, limits)
                    rows += len(_ROW.findall(window)) - len(_ROW.findall(tail))
                    if rows_so_far + rows > limits.max_rows + ROW_SLACK:
                        raise WorkbookRefused(
                            msg("workbook.too_many_rows", limit=limits.max_rows))
                tail = window[-64:]
                first = False
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
        raise WorkbookRefused(msg("workbook.damaged_part", part=part.filename,
                                  error=type(error).__name__)) from None
    return rows


def _column(letters: str) -> int:
    try:
        return int(column_index_from_string(letters))
    except ValueError:  # past XFD, the last column a spreadsheet has
        return 2**31


def _check_dimension(head: bytes, name: str, limits: WorkbookLimits) -> None:
    found = _DIMENSION.search(head)
    if found is None:
        return
    first_col, first_row, last_col, last_row = found.groups()
    letters = last_col or first_col
    number = last_row or first_row
    if number is not None and int(number) > limits.max_row_number:
        raise WorkbookRefused(msg("workbook.row_too_far", sheet=name, row=int(number),
                                  limit=limits.max_rows))
    if letters is not None and _column(letters.decode()) > limits.max_columns:
        raise WorkbookRefused(msg("workbook.column_too_far", sheet=name, column=letters.decode(),
                                  limit=limits.max_columns))
