import datetime as dt

import pytest

from carepath.accounts.models import License, User
from carepath.core import clock
from carepath.intake.models import ServiceLine
from carepath.scheduling.models import (
    Appointment,
    AvailabilityException,
    ExceptionKind,
    VisitType,
    WeeklyAvailability,
)
from carepath.scheduling.selectors import available_slots
from tests.scheduling.conftest import CHICAGO, visit_type

pytestmark = pytest.mark.django_db


def test_weekly_hours_stay_at_local_time_across_the_dst_change(
    alice: User, dr_tex: User, derm: ServiceLine, tex_hours: VisitType, october: dt.datetime
) -> None:
    # November 1, 2026: Chicago falls back from CDT (UTC-5) to CST (UTC-6).
    slots = available_slots(
        service_line=derm, patient=alice, start_date=dt.date(2026, 10, 26), days=14
    )
    first_per_day: dict[dt.date, dt.datetime] = {}
    for slot in slots:
        first_per_day.setdefault(slot.starts_local.date(), slot.starts_at)
    before = first_per_day[dt.date(2026, 10, 30)]  # Friday before the change
    after = first_per_day[dt.date(2026, 11, 2)]  # Monday after it
    assert before.astimezone(CHICAGO).time() == dt.time(9, 0)
    assert after.astimezone(CHICAGO).time() == dt.time(9, 0)
    assert before.astimezone(dt.UTC).time() == dt.time(14, 0)  # 9:00 CDT
    assert after.astimezone(dt.UTC).time() == dt.time(15, 0)  # 9:00 CST
    assert before.astimezone(CHICAGO).utcoffset() == dt.timedelta(hours=-5)
    assert after.astimezone(CHICAGO).utcoffset() == dt.timedelta(hours=-6)
    # Every weekday of both weeks has the same six local slots, 9:00 to 11:30.
    assert len(first_per_day) == 10
    for day in first_per_day:
        times = [s.starts_local.time() for s in slots if s.starts_local.date() == day]
        assert times == [
            dt.time(9),
            dt.time(9, 30),
            dt.time(10),
            dt.time(10, 30),
            dt.time(11),
            dt.time(11, 30),
        ]
    assert all(slot.zone == "America/Chicago" for slot in slots)


def test_slots_only_with_clinicians_licensed_in_the_patients_state(
    alice: User,
    bob: User,
    dr_tex: User,
    dr_ny: User,
    primary: ServiceLine,
    tex_hours: VisitType,
    ny_hours: VisitType,
    october: dt.datetime,
) -> None:
    # A clinic-wide primary-care visit type: dr_tex (primary care too) offers it; dr_ny has
    # his own primary-care type.
    visit_type(None, primary, minutes=20)
    for_alice = available_slots(
        service_line=primary, patient=alice, start_date=dt.date(2026, 10, 19), days=5
    )
    for_bob = available_slots(
        service_line=primary, patient=bob, start_date=dt.date(2026, 10, 19), days=5
    )
    assert {slot.clinician_id for slot in for_alice} == {dr_tex.pk}
    assert {slot.clinician_id for slot in for_bob} == {dr_ny.pk}
    # Searching for dr_ny by name does not help alice: he is not licensed in Texas.
    assert not available_slots(
        clinician=dr_ny, patient=alice, start_date=dt.date(2026, 10, 19), days=5
    )
    # The state the patient will be in decides, not where they live.
    in_ny = available_slots(
        service_line=primary, patient=alice, start_date=dt.date(2026, 10, 19), days=5, state="NY"
    )
    assert {slot.clinician_id for slot in in_ny} == {dr_ny.pk}


def test_slots_are_shown_in_the_patients_zone(
    alice: User, dr_tex: User, derm: ServiceLine, tex_hours: VisitType, october: dt.datetime
) -> None:
    alice.time_zone = "America/Los_Angeles"
    alice.save(update_fields=["time_zone"])
    slots = available_slots(
        clinician=dr_tex, patient=alice, start_date=dt.date(2026, 10, 19), days=1
    )
    assert slots[0].zone == "America/Los_Angeles"
    assert slots[0].starts_local.time() == dt.time(7, 0)  # 9:00 Chicago = 7:00 Pacific
    assert slots[0].zone_abbreviation == "PDT"


def test_no_specialty_no_slots(
    alice: User, dr_tex: User, derm: ServiceLine, tex_hours: VisitType, october: dt.datetime
) -> None:
    dr_tex.clinician_profile.specialties.clear()
    assert not available_slots(
        service_line=derm, patient=alice, start_date=dt.date(2026, 10, 19), days=5
    )


def test_exceptions_bookings_buffers_and_the_past(
    alice: User, dr_tex: User, derm: ServiceLine, tex_hours: VisitType, bob: User
) -> None:
    monday = dt.date(2026, 10, 19)

    def at(hour: int, minute: int = 0, day: dt.date = monday) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=CHICAGO)

    clock.freeze(at(9, 10))  # 9:00 has started: gone
    tex_hours.buffer_minutes = 0
    tex_hours.save()
    AvailabilityException.objects.create(
        clinician=dr_tex, kind=ExceptionKind.TIME_OFF, starts_at=at(10), ends_at=at(11)
    )
    AvailabilityException.objects.create(
        clinician=dr_tex, kind=ExceptionKind.EXTRA_HOURS, starts_at=at(13), ends_at=at(14)
    )
    other = visit_type(dr_tex, derm, minutes=15, buffer=15)
    Appointment.objects.create(
        patient=bob,
        clinician=dr_tex,
        visit_type=other,
        starts_at=at(11),
        ends_at=at(11, 15),
        blocks_until=at(11, 30),
        patient_state="TX",
    )
    slots = available_slots(
        clinician=dr_tex, visit_type=tex_hours, patient=alice, start_date=monday, days=1
    )
    assert [s.starts_local.time() for s in slots] == [
        dt.time(9, 30),
        dt.time(11, 30),
        dt.time(13),
        dt.time(13, 30),
    ]


def test_licence_expiry_and_rule_validity(
    alice: User, dr_tex: User, derm: ServiceLine, tex_hours: VisitType, october: dt.datetime
) -> None:
    License.objects.filter(clinician__user=dr_tex).update(expires_on=dt.date(2026, 10, 20))
    WeeklyAvailability.objects.filter(clinician=dr_tex).update(valid_until=dt.date(2026, 10, 22))
    slots = available_slots(
        service_line=derm, patient=alice, start_date=dt.date(2026, 10, 19), days=7
    )
    assert {slot.starts_local.date() for slot in slots} == {
        dt.date(2026, 10, 19),
        dt.date(2026, 10, 20),
    }
