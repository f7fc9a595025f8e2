"""The scheduling pages: patients search (times in their zone, named), book, see, reschedule,
cancel; clinicians edit hours, exceptions and visit types and see their appointments."""

import datetime as dt
import re
from collections.abc import Callable

import pytest
from django.test import Client

from carepath.accounts.models import User
from carepath.care.models import Encounter, EncounterMode, Episode
from carepath.core import clock
from carepath.intake.models import Case, CaseStatus, ServiceLine
from carepath.scheduling.actions import do_book
from carepath.scheduling.models import (
    Appointment,
    AppointmentStatus,
    AvailabilityException,
    VisitType,
    WeeklyAvailability,
)
from carepath.scheduling.selectors import intake_case_for
from tests.scheduling.conftest import CHICAGO

NINE = dt.datetime(2026, 10, 19, 9, tzinfo=CHICAGO)


def test_patient_searches_books_reschedules_and_cancels(
    alice: User,
    dr_tex: User,
    dr_ny: User,
    derm: ServiceLine,
    tex_hours: VisitType,
    ny_hours: VisitType,
    october: dt.datetime,
    client_for: Callable[..., Client],
) -> None:
    client = client_for(alice)
    page = client.get("/patient/appointments/book/")
    assert page.status_code == 200
    assert "America/Chicago" in page.content.decode()
    page = client.get(
        "/patient/appointments/book/",
        {"service_line": "dermatology", "start_date": "2026-10-19", "days": "7"},
    )
    html = page.content.decode()
    assert page.status_code == 200
    assert "9:00 AM CDT" in html
    assert dr_tex.display_name in html
    assert dr_ny.display_name not in html
    link = re.search(r'href="(/patient/appointments/book/confirm/\?[^"]+)"', html)
    assert link is not None
    confirm_url = link.group(1).replace("&amp;", "&")
    page = client.get(confirm_url)
    assert page.status_code == 200
    assert "Monday, October 19, 2026, 9:00 AM" in page.content.decode()
    key = re.search(r'name="idempotency_key" value="([0-9a-f]+)"', page.content.decode())
    assert key is not None
    form = {
        "clinician": str(dr_tex.pk),
        "visit_type": str(tex_hours.pk),
        "starts_at": NINE.astimezone(dt.UTC).isoformat(),
        "patient_state": "TX",
        "idempotency_key": key.group(1),
    }
    response = client.post("/patient/appointments/book/confirm/", form)
    assert response.status_code == 302
    again = client.post("/patient/appointments/book/confirm/", form)  # a double submit
    assert again["Location"] == response["Location"]
    appointment = Appointment.objects.get()
    page = client.get(response["Location"])
    assert "Booked" in page.content.decode()
    assert "America/Chicago" in page.content.decode()
    listing = client.get("/patient/appointments/").content.decode()
    assert "Monday, October 19, 2026, 9:00 AM CDT" in listing

    # Reschedule to another offered time.
    page = client.get(f"/patient/appointments/{appointment.pk}/reschedule/")
    assert page.status_code == 200
    assert "9:30 AM CDT" in page.content.decode()
    response = client.post(
        f"/patient/appointments/{appointment.pk}/reschedule/",
        {"starts_at": (NINE + dt.timedelta(minutes=30)).isoformat()},
    )
    assert response.status_code == 302
    new = Appointment.objects.get(status=AppointmentStatus.BOOKED)
    assert response["Location"] == f"/patient/appointments/{new.pk}/"
    # A time not offered: the page says so, nothing changes.
    response = client.post(
        f"/patient/appointments/{new.pk}/reschedule/",
        {"starts_at": (NINE + dt.timedelta(minutes=7)).isoformat()},
    )
    assert response.status_code == 409
    assert "no longer available" in response.content.decode()
    response = client.post(f"/patient/appointments/{new.pk}/reschedule/", {"starts_at": "nope"})
    assert response.status_code == 409

    # Cancel.
    assert client.get(f"/patient/appointments/{new.pk}/cancel/").status_code == 200
    response = client.post(f"/patient/appointments/{new.pk}/cancel/", {"reason": "travel"})
    assert response.status_code == 302
    new.refresh_from_db()
    assert new.status == AppointmentStatus.CANCELLED


def test_booking_page_refusals_are_shown_not_500(
    alice: User,
    dr_tex: User,
    tex_hours: VisitType,
    october: dt.datetime,
    client_for: Callable[..., Client],
) -> None:
    client = client_for(alice)
    assert client.get("/patient/appointments/book/confirm/?clinician=x").status_code == 404
    response = client.post(
        "/patient/appointments/book/confirm/",
        {
            "clinician": str(dr_tex.pk),
            "visit_type": str(tex_hours.pk),
            "starts_at": (NINE + dt.timedelta(minutes=3)).isoformat(),
            "patient_state": "TX",
        },
    )
    assert response.status_code == 409
    assert "no longer available" in response.content.decode()
    response = client.get("/patient/appointments/book/", {"start_date": "bad"})
    assert response.status_code == 400


def test_cancel_cutoff_on_the_page(
    alice: User,
    dr_tex: User,
    tex_hours: VisitType,
    october: dt.datetime,
    client_for: Callable[..., Client],
) -> None:
    appointment = do_book(
        alice, patient=alice, clinician=dr_tex, visit_type=tex_hours, starts_at=NINE
    )
    clock.freeze(NINE - dt.timedelta(hours=1))
    client = client_for(alice)
    page = client.get(f"/patient/appointments/{appointment.pk}/").content.decode()
    assert "until 2 hours before" in page
    response = client.post(f"/patient/appointments/{appointment.pk}/cancel/", {"reason": ""})
    assert response.status_code == 409
    assert "contact the clinic" in response.content.decode()


def test_visit_type_requiring_intake_sends_the_patient_to_it(
    alice: User,
    dr_tex: User,
    derm: ServiceLine,
    tex_hours: VisitType,
    october: dt.datetime,
    client_for: Callable[..., Client],
) -> None:
    tex_hours.requires_intake = True
    tex_hours.save()
    appointment = do_book(
        alice, patient=alice, clinician=dr_tex, visit_type=tex_hours, starts_at=NINE
    )
    assert intake_case_for(appointment) is None
    page = client_for(alice).get(f"/patient/appointments/{appointment.pk}/").content.decode()
    assert "Before your visit" in page
    assert "/patient/visits/new/dermatology/" in page
    # The patient submits the intake; the clinician sees it with the appointment.
    episode = Episode.objects.create(patient=alice, service_line=derm, title="Skin")
    encounter = Encounter.objects.create(episode=episode, mode=EncounterMode.ASYNC)
    case = Case.objects.create(
        patient=alice,
        service_line=derm,
        questionnaire=derm.questionnaire,
        episode=episode,
        encounter=encounter,
        state_at_submission="TX",
        status=CaseStatus.SUBMITTED,
        submitted_at=clock.now(),
        answers={"q1": "yes"},
    )
    assert intake_case_for(appointment) == case
    page = client_for(alice).get(f"/patient/appointments/{appointment.pk}/").content.decode()
    assert "Before your visit" not in page
    staff_page = client_for(dr_tex).get(f"/staff/schedule/appointments/{appointment.pk}/")
    assert "Submitted" in staff_page.content.decode()
    # Booked after the intake: linked at once.
    second = do_book(
        alice,
        patient=alice,
        clinician=dr_tex,
        visit_type=tex_hours,
        starts_at=NINE + dt.timedelta(days=1),
    )
    assert second.intake_case == case


def test_clinician_edits_hours_exceptions_and_visit_types(
    dr_tex: User, derm: ServiceLine, october: dt.datetime, client_for: Callable[..., Client]
) -> None:
    dr_tex.time_zone = "America/Chicago"
    dr_tex.save(update_fields=["time_zone"])
    client = client_for(dr_tex)
    page = client.get("/staff/schedule/hours/")
    assert "America/Chicago" in page.content.decode()
    response = client.post(
        "/staff/schedule/hours/", {"weekday": "0", "start_time": "09:00", "end_time": "12:00"}
    )
    assert response.status_code == 302
    rule = WeeklyAvailability.objects.get(clinician=dr_tex)
    assert (rule.start_time, rule.end_time) == (dt.time(9), dt.time(12))
    assert rule.valid_from == dt.date(2026, 10, 16)
    response = client.post(
        "/staff/schedule/hours/", {"weekday": "0", "start_time": "12:00", "end_time": "09:00"}
    )
    assert response.status_code == 400
    assert "after the start" in response.content.decode()
    assert client.post(f"/staff/schedule/hours/{rule.pk}/remove/").status_code == 302
    assert not WeeklyAvailability.objects.exists()  # had not started yet: removed

    # Exceptions are entered in the clinician's zone.
    response = client.post(
        "/staff/schedule/exceptions/",
        {"kind": "time_off", "starts_at": "2026-11-02T09:00", "ends_at": "2026-11-02T12:00"},
    )
    assert response.status_code == 302
    exception = AvailabilityException.objects.get()
    assert exception.starts_at == dt.datetime(2026, 11, 2, 15, tzinfo=dt.UTC)  # 9:00 CST
    assert "9:00 AM" in client.get("/staff/schedule/exceptions/").content.decode()

    response = client.post(
        "/staff/schedule/visit-types/",
        {
            "name": "Skin check",
            "duration_minutes": "20",
            "mode": "video",
            "buffer_minutes": "5",
            "service_line": "dermatology",
            "requires_intake": "on",
            "active": "on",
        },
    )
    assert response.status_code == 302
    visit_type = VisitType.objects.get(clinician=dr_tex)
    assert visit_type.service_line == derm
    assert visit_type.requires_intake
    response = client.post(
        f"/staff/schedule/visit-types/{visit_type.pk}/",
        {"name": "Skin check", "duration_minutes": "3", "mode": "video", "buffer_minutes": "0"},
    )
    assert response.status_code == 400
    assert client.get(f"/staff/schedule/visit-types/{visit_type.pk}/").status_code == 200


def test_clinician_schedule_and_who_may_not_see_it(
    alice: User,
    bob: User,
    dr_tex: User,
    dr_ny: User,
    tex_hours: VisitType,
    october: dt.datetime,
    client_for: Callable[..., Client],
) -> None:
    appointment = do_book(
        alice, patient=alice, clinician=dr_tex, visit_type=tex_hours, starts_at=NINE
    )
    page = client_for(dr_tex).get("/staff/schedule/").content.decode()
    assert alice.display_name in page
    assert "9:00 AM CDT" in page
    assert alice.display_name not in client_for(dr_ny).get("/staff/schedule/").content.decode()
    assert client_for(alice).get("/staff/schedule/").status_code == 403
    assert client_for(alice).get("/staff/schedule/hours/").status_code == 403
    assert client_for(bob).get(f"/patient/appointments/{appointment.pk}/").status_code == 404
    assert (
        client_for(dr_ny).post(f"/staff/schedule/appointments/{appointment.pk}/cancel/").status_code
        == 404
    )
    # dr_tex marks a no-show after the start, from the page.
    clock.freeze(NINE + dt.timedelta(minutes=15))
    tex = client_for(dr_tex)
    assert (
        "Mark as no-show"
        in tex.get(f"/staff/schedule/appointments/{appointment.pk}/").content.decode()
    )
    response = tex.post(f"/staff/schedule/appointments/{appointment.pk}/no-show/")
    assert response.status_code == 302
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.NO_SHOW


@pytest.mark.parametrize("path", ["/patient/appointments/", "/patient/appointments/book/"])
def test_staff_cannot_use_patient_pages(
    dr_tex: User, client_for: Callable[..., Client], path: str
) -> None:
    assert client_for(dr_tex).get(path).status_code == 403
