import datetime as dt
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connections
from django.test import Client

from carepath.access.models import CareRelationship
from carepath.accounts.models import User
from carepath.audit.models import AuditEvent, Outcome
from carepath.consent.models import ConsentAcceptance, ConsentDocument
from carepath.core import clock
from carepath.intake.models import ServiceLine
from carepath.scheduling.models import Appointment, AppointmentStatus, VisitType
from tests.personas import make_patient, signed_in_client
from tests.scheduling.conftest import CHICAGO

NINE = dt.datetime(2026, 10, 19, 9, tzinfo=CHICAGO)  # Monday 9:00 Chicago


def book(client: Client, visit_type: VisitType, starts_at: dt.datetime, **extra: Any) -> Any:
    body = {
        "clinician_id": visit_type.clinician_id,
        "visit_type_id": visit_type.pk,
        "starts_at": starts_at.isoformat(),
        **extra,
    }
    headers = {}
    if "key" in body:
        headers["Idempotency-Key"] = body.pop("key")
    return client.post(
        "/api/v1/scheduling/appointments", body, content_type="application/json", headers=headers
    )


def test_patient_books_a_slot_through_the_api(
    alice: User,
    dr_tex: User,
    tex_hours: VisitType,
    october: dt.datetime,
    client_for: Callable[..., Client],
) -> None:
    response = book(client_for(alice), tex_hours, NINE)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "booked"
    assert body["starts_at"].startswith("2026-10-19T14:00:00")  # stored UTC
    assert body["starts_local"].startswith("2026-10-19T09:00:00-05:00")
    assert body["zone"] == "America/Chicago"
    appointment = Appointment.objects.get(pk=body["id"])
    assert appointment.patient_state == "TX"
    assert appointment.blocks_until == appointment.ends_at
    assert AuditEvent.objects.filter(
        action="appointment.book", patient_id=alice.pk, object_id=str(appointment.pk)
    ).exists()
    # The clinician now has a care relationship to the patient, until after the visit.
    assert CareRelationship.objects.filter(
        staff=dr_tex, patient=alice, source_id=str(appointment.pk)
    ).exists()
    # The slot is gone for the next search.
    slots = (
        client_for(alice)
        .get(
            "/api/v1/scheduling/slots",
            {"clinician_id": str(dr_tex.pk), "start_date": "2026-10-19", "days": "1"},
        )
        .json()
    )
    assert slots[0]["starts_local"].startswith("2026-10-19T09:30:00-05:00")
    assert slots[0]["zone"] == "America/Chicago"


def test_idempotency_key_returns_the_first_booking(
    alice: User, tex_hours: VisitType, october: dt.datetime, client_for: Callable[..., Client]
) -> None:
    client = client_for(alice)
    first = book(client, tex_hours, NINE, key="book-1")
    again = book(client, tex_hours, NINE, key="book-1")
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert Appointment.objects.count() == 1
    other = book(client, tex_hours, NINE + dt.timedelta(minutes=30), key="book-1")
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"


def test_double_booking_is_refused_with_409_on_the_lock_path(
    alice: User,
    dr_tex: User,
    tex_hours: VisitType,
    october: dt.datetime,
    client_for: Callable[..., Client],
) -> None:
    carol = make_patient("carol@example.com", "TX")
    assert book(client_for(alice), tex_hours, NINE).status_code == 201
    response = book(client_for(carol), tex_hours, NINE)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "slot_unavailable"
    assert "no longer available" in response.json()["error"]["message"]
    # A longer visit type overlapping the booked one is refused too.
    longer = VisitType.objects.create(
        clinician=dr_tex, name="Long", duration_minutes=60, mode="video"
    )
    response = book(client_for(carol), longer, NINE - dt.timedelta(minutes=0))
    assert response.status_code == 409
    assert Appointment.objects.filter(status=AppointmentStatus.BOOKED).count() == 1


def test_buffer_blocks_the_following_slot(
    alice: User,
    dr_tex: User,
    tex_hours: VisitType,
    october: dt.datetime,
    client_for: Callable[..., Client],
) -> None:
    tex_hours.buffer_minutes = 10
    tex_hours.save()
    assert book(client_for(alice), tex_hours, NINE).status_code == 201
    carol = make_patient("carol@example.com", "TX")
    # Slots step by duration + buffer: 9:00, 9:40 ...; 9:30 is not offered.
    assert book(client_for(carol), tex_hours, NINE + dt.timedelta(minutes=30)).status_code == 409
    assert book(client_for(carol), tex_hours, NINE + dt.timedelta(minutes=40)).status_code == 201


def test_times_not_offered_are_refused(
    alice: User,
    dr_ny: User,
    ny_hours: VisitType,
    tex_hours: VisitType,
    october: dt.datetime,
    client_for: Callable[..., Client],
) -> None:
    client = client_for(alice)
    assert book(client, tex_hours, NINE + dt.timedelta(minutes=7)).status_code == 409  # off-grid
    assert book(client, tex_hours, NINE.replace(hour=14)).status_code == 409  # outside hours
    assert book(client, tex_hours, NINE - dt.timedelta(days=7)).status_code == 409  # the past
    # dr_ny is not licensed in Texas.
    ny_nine = dt.datetime(2026, 10, 19, 9, tzinfo=dt.timezone(dt.timedelta(hours=-4)))
    assert book(client, ny_hours, ny_nine).status_code == 409
    # ...unless alice will be in New York.
    assert book(client, ny_hours, ny_nine, patient_state="NY").status_code == 201


def test_bad_input_gets_clear_errors(
    alice: User, tex_hours: VisitType, october: dt.datetime, client_for: Callable[..., Client]
) -> None:
    client = client_for(alice)
    response = client.post(
        "/api/v1/scheduling/appointments",
        {"clinician_id": tex_hours.clinician_id, "visit_type_id": tex_hours.pk, "starts_at": "x"},
        content_type="application/json",
    )
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "starts_at"
    response = book(client, tex_hours, NINE.replace(tzinfo=None))
    assert response.status_code == 400
    response = client.post(
        "/api/v1/scheduling/appointments",
        {"clinician_id": 999999, "visit_type_id": tex_hours.pk, "starts_at": NINE.isoformat()},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unknown_clinician"
    assert book(client, tex_hours, NINE, patient_state="ZZ").status_code == 400
    response = client.get("/api/v1/scheduling/slots")
    assert response.status_code == 400
    assert client.get("/api/v1/scheduling/slots", {"days": 400}).status_code == 422


def test_no_booking_without_consent(
    alice: User, tex_hours: VisitType, october: dt.datetime, client_for: Callable[..., Client]
) -> None:
    # Consent texts effective before the frozen clock (they were created "today").
    ConsentDocument.objects.update(effective_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    ConsentAcceptance.objects.filter(patient=alice).delete()
    response = book(client_for(alice), tex_hours, NINE)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "consent_required"


def test_staff_roles_that_may_not_book(
    faye: User,
    alice: User,
    tex_hours: VisitType,
    october: dt.datetime,
    client_for: Callable[..., Client],
) -> None:
    response = book(client_for(faye), tex_hours, NINE, patient_id=alice.pk)
    assert response.status_code == 403
    assert AuditEvent.objects.filter(actor_id=faye.pk, outcome=Outcome.DENIED).exists()


def test_coordinator_books_only_for_patients_in_their_care(
    cody: User,
    alice: User,
    tex_hours: VisitType,
    october: dt.datetime,
    client_for: Callable[..., Client],
) -> None:
    response = book(client_for(cody), tex_hours, NINE, patient_id=alice.pk)
    assert response.status_code == 404
    CareRelationship.objects.create(staff=cody, patient=alice, kind="care_team")
    response = book(client_for(cody), tex_hours, NINE, patient_id=alice.pk)
    assert response.status_code == 201
    assert Appointment.objects.get().booked_by == cody


def test_bob_cannot_see_or_cancel_alices_appointment(
    alice: User,
    bob: User,
    tex_hours: VisitType,
    october: dt.datetime,
    client_for: Callable[..., Client],
) -> None:
    appointment_id = book(client_for(alice), tex_hours, NINE).json()["id"]
    bob_client = client_for(bob)
    for response in (
        bob_client.get(f"/api/v1/scheduling/appointments/{appointment_id}"),
        bob_client.post(
            f"/api/v1/scheduling/appointments/{appointment_id}/cancel",
            {},
            content_type="application/json",
        ),
        bob_client.get(f"/api/v1/scheduling/appointments/{appointment_id}/invite.ics"),
        bob_client.get(f"/patient/appointments/{appointment_id}/"),
        bob_client.post(f"/patient/appointments/{appointment_id}/cancel/", {"reason": ""}),
    ):
        assert response.status_code == 404
    assert bob_client.get("/api/v1/scheduling/appointments").json() == []
    denied = AuditEvent.objects.filter(
        actor_id=bob.pk, outcome=Outcome.DENIED, object_id=str(appointment_id)
    )
    assert denied.count() == 5
    assert set(denied.values_list("patient_id", flat=True)) == {alice.pk}
    assert Appointment.objects.get(pk=appointment_id).status == AppointmentStatus.BOOKED


def test_dr_ny_cannot_see_dr_tex_appointments(
    alice: User,
    dr_tex: User,
    dr_ny: User,
    tex_hours: VisitType,
    october: dt.datetime,
    client_for: Callable[..., Client],
) -> None:
    appointment_id = book(client_for(alice), tex_hours, NINE).json()["id"]
    tex = client_for(dr_tex)
    ny = client_for(dr_ny)
    assert [a["id"] for a in tex.get("/api/v1/scheduling/appointments").json()] == [appointment_id]
    assert tex.get(f"/api/v1/scheduling/appointments/{appointment_id}").status_code == 200
    assert ny.get("/api/v1/scheduling/appointments").json() == []
    assert ny.get(f"/api/v1/scheduling/appointments/{appointment_id}").status_code == 404
    assert ny.get(f"/staff/schedule/appointments/{appointment_id}/").status_code == 404
    assert ny.post(f"/api/v1/scheduling/appointments/{appointment_id}/no-show").status_code == 404
    assert AuditEvent.objects.filter(
        actor_id=dr_ny.pk, outcome=Outcome.DENIED, object_id=str(appointment_id)
    ).exists()


def _parallel_bookings(count: int, visit_type: VisitType) -> list[tuple[int, dict[str, Any]]]:
    patients = [make_patient(f"p{n}@example.com", "TX") for n in range(count)]
    clients = [signed_in_client(patient) for patient in patients]
    barrier = threading.Barrier(count)
    results: list[tuple[int, dict[str, Any]]] = []
    lock = threading.Lock()

    def attempt(client: Client) -> None:
        try:
            barrier.wait(timeout=30)
            response = book(client, visit_type, NINE)
            with lock:
                results.append((response.status_code, response.json()))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


@pytest.mark.postgres
def test_twenty_parallel_bookings_of_one_slot_one_wins_on_postgres(
    committed_db: None,
    clinic: None,
    dr_tex: User,
    derm: ServiceLine,
    tex_hours: VisitType,
    october: dt.datetime,
) -> None:
    results = _parallel_bookings(20, tex_hours)
    statuses = sorted(status for status, _ in results)
    assert statuses == [201] + [409] * 19, results
    assert {body["error"]["code"] for status, body in results if status == 409} == {
        "slot_unavailable"
    }
    assert Appointment.objects.filter(status=AppointmentStatus.BOOKED).count() == 1


def test_parallel_bookings_one_wins_on_any_database(
    committed_db: None,
    clinic: None,
    dr_tex: User,
    derm: ServiceLine,
    tex_hours: VisitType,
    october: dt.datetime,
) -> None:
    results = _parallel_bookings(6, tex_hours)
    assert sorted(status for status, _ in results) == [201] + [409] * 5, results
    assert Appointment.objects.filter(status=AppointmentStatus.BOOKED).count() == 1


@pytest.mark.postgres
def test_the_database_itself_refuses_overlapping_bookings(
    alice: User, bob: User, dr_tex: User, tex_hours: VisitType
) -> None:
    from django.db import IntegrityError, transaction

    start = dt.datetime(2026, 10, 19, 14, tzinfo=dt.UTC)
    fields = {
        "clinician": dr_tex,
        "visit_type": tex_hours,
        "patient_state": "TX",
    }
    Appointment.objects.create(
        patient=alice,
        starts_at=start,
        ends_at=start + dt.timedelta(minutes=30),
        blocks_until=start + dt.timedelta(minutes=40),
        **fields,
    )
    with pytest.raises(IntegrityError, match="appointment_no_double_booking"), transaction.atomic():
        Appointment.objects.create(
            patient=bob,
            starts_at=start + dt.timedelta(minutes=35),
            ends_at=start + dt.timedelta(minutes=65),
            blocks_until=start + dt.timedelta(minutes=65),
            **fields,
        )
    # Cancelled appointments do not block.
    Appointment.objects.filter(patient=alice).update(status=AppointmentStatus.CANCELLED)
    Appointment.objects.create(
        patient=bob,
        starts_at=start,
        ends_at=start + dt.timedelta(minutes=30),
        blocks_until=start + dt.timedelta(minutes=30),
        **fields,
    )
    assert clock.now()
