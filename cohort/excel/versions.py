"""A workbook made from another version of the data dictionary: do its answers still mean
what they meant when the person picked them?

Templates record the dictionary's fingerprint in ``_meta``. The fingerprint changes with
any edit of the dictionary (a question reworded, a field added, a range widened), and
refusing every such workbook would make outreach workers re-type their field work for
nothing: columns added or removed are already named by the header checks, and ranges,
required answers and branching logic are checked against today's dictionary at import.
What an older workbook can silently get wrong is a *choice code whose meaning changed*: a
``2`` picked or typed when 2 meant "Public place" would be saved as whatever 2 means now.

So when the fingerprint differs, the meanings the workbook carries are compared with
today's dictionary: the drop-down lists in its hidden ``_lists`` sheet (``code = label``,
each list with its variable name under it) and, for tick columns (``field___code``), the
label above the column. A code that no longer exists, or whose words changed, refuses the
whole workbook, naming each column, before any row is checked; the person copies the
answers into a new template, picking each answer again. A code *added* to a list changes
nothing the person wrote and is not reported. A workbook whose ``_lists`` sheet is gone
cannot be compared and is refused too. A workbook without a fingerprint (a sheet made by
hand) has nothing to compare: its cells are read with today's codes, as typed.

Words are compared in every language the dictionary has: a French workbook's
« 2 = Une fois par semaine » still means 2 if the French or the English of 2 is unchanged
(the workbook was made in one of them). Changes are named in the reader's language.
"""

from __future__ import annotations

import re
from typing import Any

from cohort.dictionary import get_dictionary
from cohort.excel.layout import (
    CHECKBOX_SEPARATOR,
    LISTS_SHEET,
    choice_codes,
    choice_words,
    shown_dictionary,
    words_key,
)
from cohort.excel.rows import Layout, Problem
from cohort.messages import msg

RULE = "import.dictionary_changed"
_ENTRY = re.compile(r"^\s*(\S+?)\s*=\s*(.*?)\s*$")


def _labels(name: str) -> dict[str, set[str]]:
    """Code -> its words (``words_key``) in every language of the dictionary."""
    labels: dict[str, set[str]] = {}
    for words, codes in choice_codes(name).items():
        for code in codes:
            labels.setdefault(code, set()).add(words)
    return labels


def _lists(book: Any) -> dict[str, dict[str, str]] | None:
    """Variable name -> {code: label} of each drop-down list kept in ``_lists``."""
    if LISTS_SHEET not in book.sheetnames:
        return None
    columns: dict[int, list[object]] = {}
    for values in book[LISTS_SHEET].iter_rows(values_only=True):
        for index, value in enumerate(values):
            columns.setdefault(index, []).append(value)
    found: dict[str, dict[str, str]] = {}
    for cells in columns.values():
        end = next((i for i, v in enumerate(cells) if v is None), len(cells))
        name = next((str(v).strip().lower() for v in cells[end:] if v is not None), None)
        if name is None:
            continue
        pairs = [_ENTRY.match(str(v)) for v in cells[:end]]
        found[name] = {m.group(1): m.group(2) for m in pairs if m}
    return found


def meanings_changed(book: Any, layouts: list[Layout],
                     labels: dict[str, dict[str, str]]) -> list[Problem]:
    """One problem per column whose choice codes no longer mean what the workbook shows."""
    dictionary = get_dictionary()
    shown = shown_dictionary()
    kept = _lists(book)
    problems: list[Problem] = []
    for layout in layouts:
        row = max(layout.name_row - 1, 1)
        if kept is None:
            problems.append(Problem(
                layout.title, row, None, "", RULE,
                msg("workbook.other_version_lists", sheet=LISTS_SHEET)))
            continue
        for name, letter in layout.letters.items():
            base, _, choice = name.partition(CHECKBOX_SEPARATOR)
            f = dictionary.fields.get(base)
            if f is None or not f.has_choices:
                continue
            known = _labels(base)
            words = choice_words(shown.fields[base])
            if choice:
                said = labels.get(layout.title, {}).get(name, "")
                now = words.get(choice, "")
                if said and now and not any(words_key(said).endswith(label)
                                            for label in known.get(choice, ())):
                    problems.append(Problem(
                        layout.title, row, letter, f.name, RULE,
                        msg("workbook.other_version_column", said=said, name=name, now=now)))
                continue
            before = kept.get(name)
            if before is None:
                continue  # not a list in that version: the cell check says what it holds
            # Language-neutral notation: code: 'then' → 'now' (→ — when no longer an answer).
            changes = [f"{code}: '{label}' → '{words[code]}'"
                       if code in f.choices else f"{code}: '{label}' → —"
                       for code, label in before.items()
                       if code not in f.choices or words_key(label) not in known.get(code, ())]
            if changes:
                problems.append(Problem(
                    layout.title, row, letter, f.name, RULE,
                    msg("workbook.other_version_choices", label=shown.fields[base].plain_label,
                        name=name,
                        changes="; ".join(changes))))
    return problems
