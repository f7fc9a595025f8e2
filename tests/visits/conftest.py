"""Visit fixtures: a booked appointment and its visit room, plus the browser fixtures of
tests/browser (reused, not copied) for the visit browser tests."""

import datetime as dt
import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from carepath.access.actions import do_add_care_relationship
from carepath.access.models import RelationshipKind
from carepath.accounts.models import User
from carepath.core import clock
from carepath.scheduling.models import Appointment, VisitType
from carepath.visits import actions
from carepath.visits.models import Visit
from tests.browser.helpers import drop_audit_triggers


def make_appointment(
    patient: User,
    clinician: User,
    *,
    starts_at: dt.datetime | None = None,
    minutes: int = 20,
    mode: str = "video",
) -> Appointment:
    starts = starts_at or clock.now() + dt.timedelta(minutes=5)
    ends = starts + dt.timedelta(minutes=minutes)
    visit_type = VisitType.objects.create(
        clinician=clinician, name="Video visit", duration_minutes=minutes, mode=mode
    )
    appointment = Appointment.objects.create(
        patient=patient,
        clinician=clinician,
        visit_type=visit_type,
        starts_at=starts,
        ends_at=ends,
        blocks_until=ends,
        patient_state=patient.patient_profile.state,
    )
    do_add_care_relationship(
        clinician, patient.pk, kind=RelationshipKind.APPOINTMENT, source_id=str(appointment.pk)
    )
    return appointment


def make_visit(patient: User, clinician: User, **options: Any) -> Visit:
    appointment = make_appointment(patient, clinician, **options)
    return actions.do_open_visit_for_appointment(appointment, by=clinician)


@pytest.fixture
def visit(alice: User, dr_tex: User) -> Visit:
    """alice's video visit with dr_tex, starting in five minutes."""
    return make_visit(alice, dr_tex)


@pytest.fixture
def visit_factory() -> Callable[..., Visit]:
    """More visits; each starts an hour after the last one made here, so one clinician's
    appointments never overlap (PostgreSQL refuses double booking)."""
    made = itertools.count(2)

    def make(patient: User, clinician: User, **options: Any) -> Visit:
        options.setdefault("starts_at", clock.now() + dt.timedelta(hours=next(made)))
        return make_visit(patient, clinician, **options)

    return make


@pytest.fixture
def flushable_db(transactional_db: None, django_db_blocker: Any) -> Iterator[None]:
    """Real commits (consumer threads see the data); the audit table's append-only triggers
    are lifted only for the flush that ends the test (and put back by the autouse fixture)."""
    yield
    with django_db_blocker.unblock():
        drop_audit_triggers()
