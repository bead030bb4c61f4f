"""What a read workbook is made of: sheets, rows, their layout and the problems found.

Plain types, shared by the reader, the REDCap reader, the dictionary-version check and
the importer; they import nothing of the Excel package but its column constants, so every
module of the package can depend on them without a circle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cohort.errors import CohortError
from cohort.excel.layout import CHECKBOX_SEPARATOR, Kind
from cohort.messages import Message, text_of
from cohort.vocab import Timepoint


class WorkbookUnreadable(CohortError):
    """The file as a whole cannot be read (not a workbook, no entry sheet…)."""


@dataclass(frozen=True)
class Problem:
    """Something to correct, at a cell when known (``row``/``column`` None: whole sheet)."""

    sheet: str
    row: int | None
    column: str | None
    field: str
    rule: str
    #: A catalogue message (rendered where the problem is shown), or words already
    #: rendered (the data dictionary's validation, a deviation's description).
    message: Message | str
    severity: str = "error"  # error | deviation (saved, and flagged for review)

    @property
    def text(self) -> str:
        return text_of(self.message)


@dataclass
class Layout:
    """Where one sheet's entries are: its title, its variable-name row, its columns."""

    title: str
    name_row: int = 2
    letters: dict[str, str] = field(default_factory=dict)  # variable name -> column letter

    def letter(self, name: str) -> str | None:
        """The column of a variable (a checkbox field: its first choice column)."""
        if name in self.letters:
            return self.letters[name]
        prefix = name + CHECKBOX_SEPARATOR
        return next((v for k, v in self.letters.items() if k.startswith(prefix)), None)


@dataclass
class EntryRow:
    """One filled row: its answers keyed by variable name, and where each came from."""

    number: int
    ref: str
    code: str | None
    answers: dict[str, Any]
    staff: str | None = None
    timepoint: Timepoint | None = None  # questionnaire rows: their sheet's (REDCap: event's)
    enrolment: dict[str, Any] | None = None  # REDCap M0 rows: the enrolment form
    centre: str | None = None  # REDCap data access group, when it names a centre
    layout: Layout | None = None  # the sheet it is on (None: the first entry sheet)
    instrument: str | None = None  # REDCap rows of a form filled between visits


@dataclass
class EntrySheet:
    """What a workbook (or a REDCap export) holds: one kind of rows, from one or more sheets."""

    kind: Kind
    timepoint: Timepoint | None
    centre: str | None
    layouts: list[Layout]
    rows: list[EntryRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    blank_rows: int = 0
    dictionary_version: str | None = None
    source: str = "workbook"  # what the person calls the file: workbook, export
    # REDCap API imports (``cohort.redcap.importing``): a questionnaire already stored is
    # corrected rather than refused as a duplicate, an enrolment answer that differs goes
    # through its service; ``versions`` are the questionnaire versions the rows were
    # merged with ((code, timepoint) -> version), so a change made meanwhile is refused.
    updates: bool = False
    versions: dict[tuple[str, str], int] = field(default_factory=dict)
    # REDCap's forceAutoNumber: every record of the import is a new participant.
    auto_number: bool = False

    @property
    def title(self) -> str:
        """The entry sheet's title; several sheets: their titles, quoted, in order."""
        if len(self.layouts) == 1:
            return self.layouts[0].title
        return ", ".join(f"'{layout.title}'" for layout in self.layouts)

    def layout_of(self, row: EntryRow) -> Layout:
        return row.layout or self.layouts[0]

    def in_header(self, problem: Problem) -> bool:
        """Whether a problem concerns a header (or a whole sheet), not an entry row."""
        if problem.row is None:
            return True
        rows = {layout.title: layout.name_row for layout in self.layouts}
        return problem.row <= rows.get(problem.sheet, self.layouts[0].name_row)
