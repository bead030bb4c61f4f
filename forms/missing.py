"""The project's missing-data codes (REDCap's "Missing Data Codes", Additional customizations).

A code such as ``UNK`` or ``NASK`` says *why* an answer is missing. The list is one file
beside the dictionary, ``missing_data_codes.txt``, written as REDCap writes the setting (one
``code, label`` per line, or separated by ``|`` as the API's project information gives it)::

    NA, Not applicable
    UNK, Unknown
    ASKU, Asked but unknown

What a code does, as in REDCap: it is accepted as the answer of any field that takes an
answer (whatever its type or range, unless the field has ``@NOMISSING``), it satisfies
"required", it is exported as written, ``isblankormissingcode()`` and the other missing-code
functions see it, and arithmetic treats it as blank. The analysis counts it as missing.
"""

from __future__ import annotations

from forms.constants import LOOSE_CHOICE_CODE_PATTERN
from forms.errors import DictionaryProblem
from forms.i18n import _

MISSING_FILE = "missing_data_codes.txt"


def parse_missing_codes(text: str, source: str = MISSING_FILE
                        ) -> tuple[dict[str, str], list[DictionaryProblem]]:
    """Code -> label, and the problems of the lines that cannot be read."""
    codes: dict[str, str] = {}
    problems: list[DictionaryProblem] = []
    for number, line in enumerate(text.removeprefix("\ufeff").splitlines(), start=1):
        for item in line.split("|"):
            item = item.strip()
            if not item or item.startswith("#"):
                continue
            code, _comma, label = item.partition(",")
            code, label = code.strip(), label.strip()
            if not LOOSE_CHOICE_CODE_PATTERN.match(code):
                problems.append(DictionaryProblem(
                    number, "code", "bad_missing_code",
                    _("'{code}' cannot be a missing-data code: use letters, digits, '.', '_' "
                      "or '-' (REDCap's rule for codes), then a comma and its label.").format(
                          code=code), source))
            elif code in codes:
                problems.append(DictionaryProblem(
                    number, "code", "bad_missing_code",
                    _("missing-data code '{code}' is listed twice.").format(code=code),
                    source))
            else:
                codes[code] = label or code
    return codes, problems
