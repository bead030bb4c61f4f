"""A centre with a trained worker and participants at every stage of follow-up."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest

from cohort.models import Centre, Participant, Staff
from cohort.services.context import Actor
from tests.api.conftest import app, client, world  # noqa: F401 (fixtures for test_web)
from tests.factories import Factory


@dataclass
class Site:
    centre: Centre
    staff: Staff
    colleague: Staff
    worker: Actor
    due: list[Participant]  # M6 window open now
    late: Participant  # M6 window closed: a visit now is saved and flagged
    recent: Participant  # included last month: nothing due


@pytest.fixture
def site(factory: Factory) -> Site:
    centre = factory.centre("C04")
    staff = factory.staff(centre=centre)
    colleague = factory.staff(centre=centre)
    worker = factory.actor(staff)
    due = [factory.participant(worker, inclusion_date=factory.today - timedelta(days=190 + i))
           for i in range(3)]
    late = factory.participant(worker, inclusion_date=factory.today - timedelta(days=240))
    recent = factory.participant(worker, inclusion_date=factory.today - timedelta(days=30))
    return Site(centre, staff, colleague, worker, due, late, recent)
