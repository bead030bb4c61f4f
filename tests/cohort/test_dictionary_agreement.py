"""The code and ``data_dictionary.csv`` agree (like datasette's test that every setting is
documented): choice codes the tables translate, variables the code reads, forms it names."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from cohort import vocab
from cohort.dictionary import get_dictionary
from cohort.models import Participant
from cohort.schedule import get_schedule
from cohort.vocab import Gender, Group, Modality, Timepoint

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("variable", "mapping"),
    [
        ("study_group", vocab.GROUP_CODES),
        ("gender", vocab.GENDER_CODES),
        ("reached_via", vocab.REACHED_VIA_CODES),
        ("setting", vocab.SETTING_CODES),
        ("modality", vocab.MODALITY_CODES),
        ("injection_site", vocab.INJECTION_SITE_CODES),
        ("fu_status", vocab.STATUS_CODES),
    ],
)
def test_choice_codes_match_the_dictionary(variable: str, mapping: dict[str, object]) -> None:
    assert set(get_dictionary().field(variable).choices) == set(mapping)


def test_record_forms_and_events_exist() -> None:
    dictionary = get_dictionary()
    assert vocab.RECORD_FORMS <= set(dictionary.forms)
    for visit in get_schedule():
        assert dictionary.forms_for_event(visit.event)


def test_every_variable_the_code_reads_is_in_the_dictionary() -> None:
    pattern = re.compile(r"""(?:clean|answers)(?:\[|\.get\()\s*["']([a-z0-9_]+)["']""")
    named: set[str] = set()
    for folder in ("cohort", "analysis", "api"):
        for path in (ROOT / folder).rglob("*.py"):
            named.update(pattern.findall(path.read_text(encoding="utf-8")))
    assert named, "the scan found nothing: the pattern is stale"
    missing = named - set(get_dictionary().fields)
    assert not missing, f"variables used in code but absent from the dictionary: {missing}"


@pytest.mark.parametrize("timepoint", [Timepoint(name) for name in ("M0", "M6", "M12")])
def test_demo_answers_are_valid_for_the_dictionary(timepoint: Timepoint) -> None:
    from cohort.demo import _Generator
    from cohort.services.questionnaires import questionnaire_forms

    generator = _Generator(session=None, seed=1, as_of=date(2026, 11, 22))  # type: ignore[arg-type]
    person = Participant(
        code="C01-0001-A", centre_id=1, seq=1, inclusion_date=date(2025, 1, 1),
        consent_date=date(2025, 1, 1), age_at_inclusion=30, injected_past_month=True,
        wish_neck_groin=False, reached_via=Modality.IN_PERSON, group=Group.INTERVENTION,
        gender=Gender.WOMAN, enrolled_by=1,
    )
    dictionary = get_dictionary()
    for i in range(50):
        answers = generator.answers(person, timepoint, date(2025, 7, 1), i % 2 == 0,
                                    (0.1 * i - 2.5, 0.0))
        result = dictionary.validate(questionnaire_forms(timepoint), answers,
                                     event=get_schedule().event(timepoint))
        assert result.ok, result.problems
