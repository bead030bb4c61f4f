"""Validating many answer sets the quick way (``dictionary._FormsCheck`` for sets with
nothing to report, branching and calculations remembered per distinct input) gives exactly
what ``validation.run`` gives on its own: the same clean values, problems, shown fields
and completeness, for valid and invalid sets alike (seeded random answer sets)."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

import pytest

import forms.dictionary as dictionary_module
from forms import DataDictionary, default_dictionary
from forms.loader import load_dictionary_text

HEADER = ("Variable / Field Name,Form Name,Section Header,Field Type,Field Label,"
          '"Choices, Calculations, OR Slider Labels",Field Note,'
          "Text Validation Type OR Show Slider Number,Text Validation Min,"
          "Text Validation Max,Identifier?,Branching Logic (Show field only if...),"
          "Required Field?,Custom Alignment,Question Number (surveys only),"
          "Matrix Group Name,Matrix Ranking?,Field Annotation\n")
SMALL = HEADER + """\
visit,v,,text,Visit,,,date_ymd,,today,,,y,,,,,
age,v,,text,Age,,,integer,0,120,,,,,,,,
first,v,,text,First injection,,,integer,0,[age],,,,,,,,
uses,v,,checkbox,Uses,"1, a | 2, b | 3, c",,,,,,,,,,,,
other,v,,text,Other,,,,,,,[uses(3)] = '1',,,,,,
score,v,,calc,Score,"[uses(1)] + [uses(2)] + if([age] > 40, 1, 0)",,,,,,,,,,,,
days,v,,calc,Days,"datediff([visit], 'today', 'd')",,,,,,,,,,,,
note,v,,text,Note,,,,,,,,,,,,,@CHARLIMIT=5
"""


def _value(rng: random.Random, name: str, kind: str, choices: list[str], noisy: bool
           ) -> Any:
    if noisy and rng.random() < 0.1:
        return rng.choice([None, "", "  ", "junk", "999", 3.0, True])
    if kind == "checkbox":
        picked = rng.sample(choices, rng.randint(0, len(choices)))
        return picked if rng.random() < 0.5 else ",".join(picked)
    if choices:
        return rng.choice(choices)
    if "date" in name or name == "visit":
        day = date(2026, 1, 1) + timedelta(days=rng.randint(-400, 300))
        return day.isoformat() if rng.random() < 0.8 else day.strftime("%d/%m/%Y")
    if not noisy:
        return rng.choice([str(rng.randint(0, 40)), rng.randint(0, 40), "ab"])
    return rng.choice([str(rng.randint(0, 130)), rng.randint(0, 60), "abcdef", "ab"])


def _answer_sets(d: DataDictionary, forms: list[str], count: int, seed: int
                 ) -> list[dict[str, Any]]:
    """Half of them noisy (odd values, unknown keys, answers to hidden questions), half
    plausible, so that both paths are taken."""
    rng = random.Random(seed)
    fields = [f for name in forms for f in d.forms[name].fields
              if f.field_type not in ("calc", "descriptive")]
    sets = []
    for _ in range(count):
        noisy = rng.random() < 0.5
        answers = {f.name: _value(rng, f.name, f.field_type, list(f.choices), noisy)
                   for f in fields if (noisy and rng.random() < 0.93)
                   or (not noisy and (f.required or not f.branching))}
        if noisy and rng.random() < 0.1:
            answers["not_a_question"] = "1"
        sets.append(answers)
    return sets


def _result(d: DataDictionary, forms: list[str], answers: dict[str, Any], **kw: Any
            ) -> tuple[Any, ...]:
    r = d.validate(forms, answers, today=date(2026, 11, 22), **kw)
    return r.ok, r.problems, r.clean, r.completeness


def _fresh(d: DataDictionary) -> DataDictionary:
    return DataDictionary(list(d.fields.values()), events=d.events,
                          missing_codes=d.missing_codes)


CASES = [
    ("study", ["baseline", "questionnaire"], {"event": "m0_arm_1", "record": {"age": 30}}),
    ("study", ["questionnaire"], {"event": "m6_arm_1"}),
    ("study", ["enrolment"], {}),
    ("study", ["aerli_session"], {}),
    ("small", ["v"], {}),
]


@pytest.mark.parametrize(("which", "forms", "kw"), CASES)
def test_quick_path_and_remembered_logic_agree_with_run(
        which: str, forms: list[str], kw: dict[str, Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    source = default_dictionary() if which == "study" else load_dictionary_text(SMALL)
    sets = _answer_sets(source, forms, 400, seed=len(forms) + len(which))
    quick = _fresh(source)
    got = [_result(quick, forms, a, **kw) for a in sets + sets]  # remembered the 2nd time
    monkeypatch.setattr(dictionary_module, "CHECK_FAST", False)
    monkeypatch.setattr(dictionary_module, "REMEMBERED", 0)
    plain = _fresh(source)
    expected = [_result(plain, forms, a, **kw) for a in sets]
    assert got == expected + expected
    assert any(ok for ok, *_ in expected) and not all(ok for ok, *_ in expected)
