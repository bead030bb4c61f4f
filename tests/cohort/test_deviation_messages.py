"""Stored deviations keep their message id and parameters (migration 0013 fills them in
for rows written before), so they can be shown in the reader's language.

Rules: session.not_in_person, session.trained_staff, visit.out_of_window,
time.no_session_6m, time.visit_overdue.
"""

from __future__ import annotations

import importlib.util
from datetime import timedelta
from pathlib import Path
from types import ModuleType

import pytest
import sqlalchemy as sa

from cohort.db import engine_for
from cohort.messages import LEGACY, register_language
from cohort.migrate import upgrade
from cohort.services.deviations import describe
from cohort.vocab import Modality
from tests.cohort.test_migrations import empty_url  # noqa: F401 (fixture: both engines)
from tests.factories import Factory

MIGRATION = next((Path(__file__).resolve().parents[2] / "cohort" / "migrations" / "versions")
                 .glob("*_0013_*.py"))


def _migration() -> ModuleType:
    spec = importlib.util.spec_from_file_location("migration_0013", MIGRATION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_raised_deviation_stores_its_id_and_parameters(factory: Factory) -> None:
    """session.not_in_person, session.trained_staff: id and parameters are stored; the
    English column is the same words, rendered from them."""
    worker = factory.worker()
    person = factory.participant(worker)
    saved = factory.aerli_session(worker, person, modality=Modality.PHONE,
                                  staff=[factory.staff(), factory.staff(trained=False)])
    by_rule = {d.rule_id: d for d in saved.deviations}
    remote = by_rule["session.not_in_person"]
    assert remote.message_id == "session.not_in_person.phone"
    assert remote.message_params == {"participant": person.code}
    trained = by_rule["session.trained_staff"]
    assert trained.message_id == "session.trained_staff"
    assert trained.message_params == {"trained": 1, "required": 2, "participant": person.code}
    factory.session.expire_all()
    for deviation in saved.deviations:
        assert describe(deviation) == deviation.message
    assert trained.message == (f"{person.code}: Only 1 AERLI-trained worker(s) present; "
                               "the protocol asks for 2.")


def test_a_stored_deviation_renders_in_the_readers_language(factory: Factory) -> None:
    worker = factory.worker()
    person = factory.participant(worker)
    saved = factory.aerli_session(worker, person, modality=Modality.ONLINE,
                                  staff=[factory.staff(), factory.staff()])
    register_language("xy", lambda mid, english: {
        "session.not_in_person.online": "Séance en ligne : hors protocole."}.get(mid))
    assert describe(saved.deviations[0], "xy") == (
        f"{person.code}: Séance en ligne : hors protocole.")


OLD_ROWS = [
    # (rule id, English words as stored before 0013, expected id, expected parameters)
    ("session.not_in_person",
     "C01-0001: Session held online: AERLI needs the injection observed in person, so it "
     "does not count for the protocol.", "session.not_in_person.online", {}),
    ("session.trained_staff",
     "C01-0002: Only 1 AERLI-trained worker(s) present; the protocol asks for 2.",
     "session.trained_staff", {"trained": 1, "required": 2}),
    ("session.high_risk_site",
     "C01-0003: Injection observed in the groin, a high-risk site the protocol excludes; "
     "please discuss safer sites.", "session.high_risk_site.groin", {}),
    ("visit.out_of_window",
     "C02-0004: M6 visit on 2026-09-30 is outside its window (2026-05-20 to 2026-07-01; "
     "+133 days from target).", "visit.out_of_window",
     {"timepoint": "M6", "visit_date": "2026-09-30", "opens": "2026-05-20",
      "closes": "2026-07-01", "offset": 133}),
    ("time.no_session_6m",
     "C02-0005: No valid AERLI session within six months of inclusion (deadline 2026-07-06).",
     "time.no_session_6m", {"deadline": "2026-07-06"}),
    ("time.visit_overdue",
     "C02-0006: M12 questionnaire overdue: its window closed on 2027-02-16.",
     "time.visit_overdue", {"timepoint": "M12", "closes": "2027-02-16"}),
    ("session.after_follow_up",
     "C02-0007: Session on 2027-03-01 is after the end of follow-up (2027-02-16).",
     "session.after_follow_up", {"session_date": "2027-03-01", "end": "2027-02-16"}),
    ("session.comparison_group",
     "C02-0008: Session delivered to a comparison-group participant: recorded as a service, "
     "off-protocol, not counted for the study.", "session.comparison_group", {}),
]


@pytest.mark.parametrize(("rule_id", "message", "message_id", "params"), OLD_ROWS)
def test_the_migration_reads_each_old_sentence_back(rule_id: str, message: str,
                                                    message_id: str, params: dict) -> None:
    found_id, found = _migration().read_back(rule_id, message)
    assert (found_id, found) == (message_id, {"participant": message[:8], **params})


def test_words_the_migration_cannot_read_are_kept_whole() -> None:
    read_back = _migration().read_back
    edited = "C01-0001: Only one trained worker came (noted by hand)."
    assert read_back("session.trained_staff", edited) == (LEGACY, {"text": edited})
    assert read_back("some.old_rule", "C01-0001: anything") == (
        LEGACY, {"text": "C01-0001: anything"})


def test_migration_0013_fills_in_existing_rows(empty_url: str) -> None:  # noqa: F811
    """Rows written at revision 0017 get their id and parameters; words are unchanged and
    the rendering gives the same words back."""
    upgrade(empty_url, "0017")
    engine = engine_for(empty_url)
    rows = [*OLD_ROWS, ("session.trained_staff", "C09-0009: typed by hand", LEGACY, {})]
    with engine.begin() as conn:
        for number, (rule_id, message, _, _) in enumerate(rows, start=1):
            conn.execute(sa.text(
                "INSERT INTO deviation (rule_id, severity, entity, record_id, message, "
                "raised_at, status, dedupe_key) VALUES (:rule, 'soft', 'aerli_session', :n, "
                ":message, CURRENT_TIMESTAMP, 'open', :key)"),
                {"rule": rule_id, "n": number, "message": message, "key": f"k{number}"})
    upgrade(empty_url)
    from cohort.messages import deviation_text
    with engine.connect() as conn:
        stored = conn.execute(sa.text(
            "SELECT record_id, message, message_id, message_params FROM deviation "
            "ORDER BY record_id")).all()
    assert len(stored) == len(rows)
    for (_, message, message_id, params), (number, words, found_id, found) in zip(
            rows, stored, strict=True):
        found = found if isinstance(found, dict) else __import__("json").loads(found)
        assert words == message
        assert found_id == message_id, number
        if message_id == LEGACY:
            assert found == {"text": message}
        else:
            assert found == {"participant": message[:8], **params}
        assert deviation_text(found_id, found) == message


def test_an_old_row_is_shown_from_its_id_once_migrated(factory: Factory) -> None:
    """The page words come from id and parameters, not the English column."""
    worker = factory.worker()
    person = factory.participant(worker, inclusion_date=factory.today - timedelta(days=400))
    saved = factory.aerli_session(worker, person, modality=Modality.PHONE,
                                  staff=[factory.staff(), factory.staff()])
    deviation = saved.deviations[0]
    deviation.message = "stale words"
    assert describe(deviation) == (
        f"{person.code}: Session held by phone: AERLI needs the injection observed in "
        "person, so it does not count for the protocol.")
