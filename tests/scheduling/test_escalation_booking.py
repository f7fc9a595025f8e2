"""Escalation to a scheduled visit: the patient is offered times with the escalating
clinician or any eligible one (licensed in the patient's state, the service line's specialty),
through the booking pages and API pre-filtered for the escalation; the booked appointment
lands in the case's episode, and its visit continues the case."""

import datetime as dt
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client

from carepath.accounts.models import User
from carepath.care import events
from carepath.care.actions import do_open_episode, do_start_encounter
from carepath.care.models import (
    Encounter,
    EncounterStatus,
    Episode,
    EscalationRequest,
    EscalationStatus,
)
from carepath.core import clock
from carepath.intake.actions import do_escalate_case
from carepath.intake.models import Case, CaseStatus, ServiceLine
from carepath.intake.selectors import CASE_SUBJECT
from carepath.notifications.models import Notification
from carepath.scheduling.models import Appointment, AppointmentStatus, VisitType
from carepath.visits.actions import do_open_visit_for_appointment
from carepath.visits.models import Participant
from carepath.workqueue.actions import do_claim, do_enqueue
from carepath.workqueue.models import WorkItemKind
from tests.personas import make_clinician
from tests.scheduling.conftest import CHICAGO, visit_type, weekday_hours

pytestmark = pytest.mark.django_db

ClientFor = Callable[..., Client]
MONDAY_NINE = dt.datetime(2026, 10, 19, 9, tzinfo=CHICAGO)


@pytest.fixture
def episode_events() -> Iterator[list[Any]]:
    seen: list[Any] = []
    events.register_episode_listener(seen.append)
    yield seen
    events._listeners.remove(seen.append)


@pytest.fixture
def dr_skin(derm: ServiceLine) -> User:
    """A second dermatologist licensed in Texas, afternoons (Chicago)."""
    clinician = make_clinician(
        "dr.skin@example.com", "1234567802", ["TX"], ["dermatology"], time_zone="America/Chicago"
    )
    weekday_hours(clinician, dt.time(13), dt.time(16))
    visit_type(clinician, derm)
    return clinician


@pytest.fixture
def dr_family(derm: ServiceLine) -> User:
    """Licensed in Texas, with hours, but not a dermatologist: never offered."""
    clinician = make_clinician(
        "dr.family@example.com", "9876543213", ["TX"], ["primary-care"], time_zone="America/Chicago"
    )
    weekday_hours(clinician, dt.time(9), dt.time(17))
    visit_type(clinician, derm)
    return clinician


def escalated_case(patient: User, clinician: User, line: ServiceLine, **options: Any) -> Case:
    """An async case the clinician claimed and escalated to a scheduled visit."""
    episode = do_open_episode(patient, title=line.name, service_line_id=line.pk)
    encounter = do_start_encounter(episode, "async", by=patient)
    case = Case.objects.create(
        patient=patient,
        service_line=line,
        questionnaire=line.questionnaire,
        episode=episode,
        encounter=encounter,
        state_at_submission="TX",
        status=CaseStatus.SUBMITTED,
        submitted_at=clock.now(),
    )
    item = do_enqueue(
        kind=WorkItemKind.ASYNC_CASE,
        patient=patient,
        subject_type=CASE_SUBJECT,
        subject_id=str(case.pk),
        title=line.name,
        due_at=clock.now() + dt.timedelta(hours=4),
        required_state="TX",
        required_specialty=line.specialty,
    )
    Case.objects.filter(pk=case.pk).update(work_item=item)
    case.refresh_from_db()
    do_claim(clinician, item.pk)
    return do_escalate_case(
        clinician, case, mode="video", reason="See it live.", when="scheduled", **options
    )


def offered_clinicians(page: str) -> set[int]:
    return {int(found) for found in re.findall(r'data-clinician="(\d+)"', page)}


def test_patient_books_the_escalated_visit_in_the_same_episode(
    alice: User,
    bob: User,
    dr_tex: User,
    dr_ny: User,
    dr_skin: User,
    dr_family: User,
    tex_hours: VisitType,
    october: dt.datetime,
    client_for: ClientFor,
    django_capture_on_commit_callbacks: Any,
    episode_events: list[Any],
) -> None:
    case = escalated_case(alice, dr_tex, tex_hours.service_line)  # type: ignore[arg-type]
    escalation = EscalationRequest.objects.get(encounter_id=case.encounter_id or 0)
    assert escalation.status == EscalationStatus.REQUESTED
    book_url = f"/patient/appointments/book/?escalation={escalation.pk}"
    assert Notification.objects.filter(user=alice, url=book_url).exists()
    alice_client = client_for(alice)
    shown = alice_client.get(f"/api/v1/intake/cases/{case.pk}").json()
    assert shown["escalations"][0]["booking_url"] == book_url
    status_page = alice_client.get(f"/patient/visits/{case.pk}/").content.decode()
    assert f'href="{book_url.replace("&", "&amp;")}"' in status_page
    assert "Book your visit" in status_page

    # Times with the same clinician first; any eligible clinician on request: a Texas
    # dermatologist, never the family doctor (specialty) nor the New York one (licence).
    same = alice_client.get(book_url)
    assert same.status_code == 200
    assert offered_clinicians(same.content.decode()) == {dr_tex.pk}
    anyone = alice_client.get(f"{book_url}&with=any").content.decode()
    assert offered_clinicians(anyone) == {dr_tex.pk, dr_skin.pk}
    api_slots = alice_client.get(
        "/api/v1/scheduling/slots",
        {"escalation_id": str(escalation.pk), "start_date": "2026-10-19", "days": "1"},
    ).json()
    assert {slot["clinician_id"] for slot in api_slots} == {dr_tex.pk, dr_skin.pk}
    assert {slot["mode"] for slot in api_slots} == {"video"}
    with_tex = alice_client.get(
        "/api/v1/scheduling/slots",
        {"escalation_id": str(escalation.pk), "clinician_id": str(dr_tex.pk), "days": "3"},
    ).json()
    assert {slot["clinician_id"] for slot in with_tex} == {dr_tex.pk}

    # Nobody else uses the escalation.
    assert client_for(bob).get(book_url).status_code == 404
    bob_slots = client_for(bob).get("/api/v1/scheduling/slots", {"escalation_id": escalation.pk})
    assert bob_slots.status_code == 404
    assert client_for(dr_tex).get(book_url).status_code == 403
    assert alice_client.get("/patient/appointments/book/?escalation=999999").status_code == 404

    # The patient books through the page: the appointment joins the case's episode.
    link = re.search(r'href="(/patient/appointments/book/confirm/\?[^"]+)"', same.content.decode())
    assert link is not None
    confirm_url = link.group(1).replace("&amp;", "&")
    confirm = alice_client.get(confirm_url)
    assert confirm.status_code == 200
    assert b'name="escalation"' in confirm.content
    hidden = r'<input type="hidden" name="(\w+)" value="([^"]*)"'
    form = dict(re.findall(hidden, confirm.content.decode()))
    form["patient_state"] = "TX"
    with django_capture_on_commit_callbacks(execute=True):
        booked = alice_client.post("/patient/appointments/book/confirm/", form)
    assert booked.status_code == 302, booked.content
    appointment = Appointment.objects.select_related("encounter").get(patient=alice)
    assert appointment.clinician == dr_tex
    assert appointment.episode_id == case.episode_id
    assert appointment.intake_case_id == case.pk
    live = appointment.encounter
    assert live is not None
    assert live.escalated_from_id == case.encounter_id
    assert live.episode_id == case.episode_id
    assert live.status == EncounterStatus.PLANNED
    escalation.refresh_from_db()
    assert escalation.status == EscalationStatus.SCHEDULED
    assert escalation.live_encounter_id == live.pk
    assert [event.name for event in episode_events] == ["visit.scheduled"]
    assert episode_events[0].episode_id == case.episode_id
    assert episode_events[0].detail["appointment_id"] == appointment.pk

    # One booking per escalation.
    again = alice_client.post(
        "/api/v1/scheduling/appointments",
        {
            "clinician_id": dr_skin.pk,
            "visit_type_id": VisitType.objects.get(clinician=dr_skin).pk,
            "starts_at": "2026-10-19T13:00:00-05:00",
            "escalation_id": escalation.pk,
        },
        content_type="application/json",
    )
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "unknown_escalation"

    # Cancelling gives the escalation back (its planned encounter is cancelled).
    cancelled = alice_client.post(
        f"/api/v1/scheduling/appointments/{appointment.pk}/cancel",
        {"reason": ""},
        content_type="application/json",
    )
    assert cancelled.status_code == 200
    assert Encounter.objects.get(pk=live.pk).status == EncounterStatus.CANCELLED
    escalation.refresh_from_db()
    assert escalation.status == EscalationStatus.REQUESTED
    assert escalation.live_encounter_id is None


def test_booking_with_another_eligible_clinician_continues_the_case(
    alice: User,
    dr_tex: User,
    dr_skin: User,
    dr_family: User,
    tex_hours: VisitType,
    october: dt.datetime,
    client_for: ClientFor,
    django_capture_on_commit_callbacks: Any,
    episode_events: list[Any],
) -> None:
    case = escalated_case(alice, dr_tex, tex_hours.service_line)  # type: ignore[arg-type]
    escalation = EscalationRequest.objects.get(encounter_id=case.encounter_id or 0)
    alice_client = client_for(alice)

    def book(clinician: User, starts_at: str) -> Any:
        return alice_client.post(
            "/api/v1/scheduling/appointments",
            {
                "clinician_id": clinician.pk,
                "visit_type_id": VisitType.objects.get(clinician=clinician).pk,
                "starts_at": starts_at,
                "escalation_id": escalation.pk,
            },
            content_type="application/json",
        )

    wrong = book(dr_family, "2026-10-19T09:00:00-05:00")
    assert wrong.status_code == 400
    assert wrong.json()["error"]["code"] == "wrong_specialty"
    with django_capture_on_commit_callbacks(execute=True):
        booked = book(dr_skin, "2026-10-19T13:00:00-05:00")
    assert booked.status_code == 201, booked.json()
    body = booked.json()
    assert body["episode_id"] == case.episode_id
    appointment = Appointment.objects.get(pk=body["id"])

    # The visit starts the planned encounter (same episode) and the new clinician's room has
    # the intake panel; the visit's end hands the case back for follow-up.
    visit = do_open_visit_for_appointment(appointment, by=dr_skin)
    skin = client_for(dr_skin)
    room = skin.get(f"/visits/{visit.pk}/").content.decode()
    assert 'id="intake-heading">Intake<' in room
    assert client_for(dr_tex).get(f"/visits/{visit.pk}/").status_code == 404
    alice_client.post(
        f"/api/v1/visits/{visit.pk}/check-in", {"camera": True}, content_type="application/json"
    )
    patient = Participant.objects.get(visit=visit, user=alice)
    with django_capture_on_commit_callbacks(execute=True):
        admitted = skin.post(f"/api/v1/visits/{visit.pk}/participants/{patient.pk}/admit")
        assert admitted.status_code == 200, admitted.json()
        ended = skin.post(f"/api/v1/visits/{visit.pk}/end")
        assert ended.status_code == 200, ended.json()
    visit.refresh_from_db()
    assert visit.encounter_id == appointment.encounter_id
    assert Episode.objects.filter(patient=alice).count() == 1
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.COMPLETED
    case.refresh_from_db()
    assert case.status == CaseStatus.FOLLOW_UP
    assert [event.name for event in episode_events] == [
        "visit.scheduled",
        "visit.started",
        "visit.ended",
    ]


def test_a_plain_booking_still_has_no_episode_until_the_visit(
    alice: User, dr_tex: User, tex_hours: VisitType, october: dt.datetime, client_for: ClientFor
) -> None:
    booked = client_for(alice).post(
        "/api/v1/scheduling/appointments",
        {
            "clinician_id": dr_tex.pk,
            "visit_type_id": tex_hours.pk,
            "starts_at": MONDAY_NINE.isoformat(),
        },
        content_type="application/json",
    )
    assert booked.status_code == 201
    assert booked.json()["episode_id"] is None
    assert booked.json()["encounter_id"] is None
