"""The clinician's own hours, exceptions and visit types through /api/v1/scheduling."""

import datetime as dt
from collections.abc import Callable

from django.test import Client

from carepath.accounts.models import User
from carepath.audit.models import AuditEvent
from carepath.intake.models import ServiceLine
from carepath.scheduling.models import AvailabilityException, VisitType, WeeklyAvailability


def test_clinician_manages_availability_through_the_api(
    dr_tex: User,
    dr_ny: User,
    alice: User,
    derm: ServiceLine,
    october: dt.datetime,
    client_for: Callable[..., Client],
) -> None:
    client = client_for(dr_tex)
    response = client.post(
        "/api/v1/scheduling/availability/weekly",
        {"weekday": 1, "start_time": "13:00", "end_time": "17:00"},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    rule_id = response.json()["id"]
    assert response.json()["zone"] == dr_tex.time_zone
    bad = client.post(
        "/api/v1/scheduling/availability/weekly",
        {"weekday": 9, "start_time": "13:00", "end_time": "12:00"},
        content_type="application/json",
    )
    assert bad.status_code == 422
    bad = client.post(
        "/api/v1/scheduling/availability/weekly",
        {"weekday": 1, "start_time": "13:00", "end_time": "12:00"},
        content_type="application/json",
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["fields"][0]["field"] == "end_time"
    assert [r["id"] for r in client.get("/api/v1/scheduling/availability/weekly").json()] == [
        rule_id
    ]
    # Another clinician neither sees nor removes it.
    other = client_for(dr_ny)
    assert other.get("/api/v1/scheduling/availability/weekly").json() == []
    assert other.delete(f"/api/v1/scheduling/availability/weekly/{rule_id}").status_code == 404
    assert client.delete(f"/api/v1/scheduling/availability/weekly/{rule_id}").status_code == 204
    assert not WeeklyAvailability.objects.exists()

    response = client.post(
        "/api/v1/scheduling/availability/exceptions",
        {
            "kind": "extra_hours",
            "starts_at": "2026-10-24T09:00:00-05:00",
            "ends_at": "2026-10-24T12:00:00-05:00",
        },
        content_type="application/json",
    )
    assert response.status_code == 201
    assert AvailabilityException.objects.get().starts_at == dt.datetime(
        2026, 10, 24, 14, tzinfo=dt.UTC
    )
    assert (
        client.post(
            "/api/v1/scheduling/availability/exceptions",
            {"kind": "time_off", "starts_at": "2026-10-24T09:00", "ends_at": "2026-10-24T08:00"},
            content_type="application/json",
        ).status_code
        == 400
    )

    response = client.post(
        "/api/v1/scheduling/visit-types",
        {"name": "Skin", "duration_minutes": 15, "mode": "audio", "service_line": "dermatology"},
        content_type="application/json",
    )
    assert response.status_code == 201
    visit_type_id = response.json()["id"]
    response = client.put(
        f"/api/v1/scheduling/visit-types/{visit_type_id}",
        {"name": "Skin", "duration_minutes": 25, "mode": "chat", "active": False},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert VisitType.objects.get().duration_minutes == 25
    assert (
        other.put(
            f"/api/v1/scheduling/visit-types/{visit_type_id}",
            {"name": "Mine", "duration_minutes": 25, "mode": "chat"},
            content_type="application/json",
        ).status_code
        == 404
    )
    assert (
        client.post(
            "/api/v1/scheduling/visit-types",
            {"name": "X", "duration_minutes": 15, "mode": "video", "service_line": "nope"},
            content_type="application/json",
        ).status_code
        == 400
    )
    # Patients may not touch any of it (audited 403).
    patient = client_for(alice)
    assert patient.get("/api/v1/scheduling/availability/weekly").status_code == 403
    assert (
        patient.post(
            "/api/v1/scheduling/visit-types",
            {"name": "X", "duration_minutes": 15, "mode": "video"},
            content_type="application/json",
        ).status_code
        == 403
    )
    assert AuditEvent.objects.filter(actor_id=alice.pk, outcome="denied").count() == 2
    assert AuditEvent.objects.filter(action="visit_type.save", actor_id=dr_tex.pk).count() == 2


def test_the_api_is_described_in_openapi(db: None) -> None:
    schema = Client().get("/api/v1/openapi.json").json()
    paths = schema["paths"]
    for path in (
        "/api/v1/scheduling/slots",
        "/api/v1/scheduling/appointments",
        "/api/v1/scheduling/appointments/{appointment_id}/reschedule",
        "/api/v1/scheduling/availability/weekly",
        "/api/v1/scheduling/visit-types",
    ):
        assert path in paths
