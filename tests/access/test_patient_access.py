import datetime as dt
from collections.abc import Callable
from typing import Any

from django.core import mail
from django.test import Client

from carepath.access.actions import do_add_care_relationship
from carepath.accounts.models import User
from carepath.audit.models import AuditEvent
from carepath.core import clock
from carepath.notifications.models import Notification

ClientFor = Callable[..., Client]


def last_event(action: str) -> AuditEvent:
    return AuditEvent.objects.filter(action=action).latest("seq")


def test_patient_reads_own_record(client_for: ClientFor, alice: User) -> None:
    response = client_for(alice).get(f"/api/v1/patients/{alice.pk}")
    assert response.status_code == 200
    assert response.json()["state"] == "TX"
    event = last_event("patient.read")
    assert (event.actor_id, event.patient_id, event.outcome) == (alice.pk, alice.pk, "allowed")


def test_patient_gets_404_for_another_patient_and_the_denial_is_audited(
    client_for: ClientFor, alice: User, bob: User
) -> None:
    response = client_for(alice).get(f"/api/v1/patients/{bob.pk}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    event = last_event("patient.read")
    assert (event.actor_id, event.patient_id, event.outcome) == (alice.pk, bob.pk, "denied")


def test_unknown_patient_and_forbidden_patient_look_the_same(
    client_for: ClientFor, alice: User, bob: User
) -> None:
    client = client_for(alice)
    forbidden = client.get(f"/api/v1/patients/{bob.pk}")
    missing = client.get("/api/v1/patients/987654")
    assert forbidden.status_code == missing.status_code == 404
    assert forbidden.json()["error"]["message"] == missing.json()["error"]["message"]


def test_clinician_needs_a_care_relationship(
    client_for: ClientFor, alice: User, dr_tex: User, dr_ny: User
) -> None:
    client = client_for(dr_tex)
    assert client.get(f"/api/v1/patients/{alice.pk}").status_code == 404
    do_add_care_relationship(dr_tex, alice.pk)
    assert client.get(f"/api/v1/patients/{alice.pk}").status_code == 200
    assert [p["id"] for p in client.get("/api/v1/patients").json()] == [alice.pk]
    assert client_for(dr_ny).get(f"/api/v1/patients/{alice.pk}").status_code == 404
    assert client_for(dr_ny).get("/api/v1/patients").json() == []


def test_ended_relationship_no_longer_grants_access(
    client_for: ClientFor, alice: User, dr_tex: User
) -> None:
    do_add_care_relationship(dr_tex, alice.pk, ends_at=clock.now() + dt.timedelta(hours=1))
    client = client_for(dr_tex)
    assert client.get(f"/api/v1/patients/{alice.pk}").status_code == 200
    clock.advance(dt.timedelta(hours=2))
    # A fresh sign-in: the old session has meanwhile timed out for idleness.
    assert client_for(dr_tex).get(f"/api/v1/patients/{alice.pk}").status_code == 404


def test_admin_has_no_standing_access_to_patients(
    client_for: ClientFor, alice: User, ada: User
) -> None:
    assert client_for(ada).get(f"/api/v1/patients/{alice.pk}").status_code == 404


def test_staff_page_for_patient_is_404_without_relationship(
    client_for: ClientFor, alice: User, dr_ny: User
) -> None:
    assert client_for(dr_ny).get(f"/staff/patients/{alice.pk}/").status_code == 404
    assert last_event("patient.read").outcome == "denied"


def test_break_the_glass_is_reasoned_time_boxed_alerted_and_audited(
    client_for: ClientFor,
    alice: User,
    ada: User,
    dr_ny: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    dr_ny.can_break_glass = True
    dr_ny.save()
    client = client_for(dr_ny)
    short = client.post(
        f"/api/v1/patients/{alice.pk}/break-glass",
        {"reason": "urgent", "minutes": 30},
        content_type="application/json",
    )
    assert short.status_code == 400
    assert short.json()["error"]["fields"][0]["field"] == "reason"

    with django_capture_on_commit_callbacks(execute=True):
        granted = client.post(
            f"/api/v1/patients/{alice.pk}/break-glass",
            {"reason": "Unresponsive patient in clinic, need allergies", "minutes": 30},
            content_type="application/json",
        )
    assert granted.status_code == 201
    assert client.get(f"/api/v1/patients/{alice.pk}").status_code == 200
    start = last_event("break_glass.start")
    assert start.outcome == "allowed"
    assert start.patient_id == alice.pk
    assert "Unresponsive" in start.detail["reason"]
    assert Notification.objects.filter(user=ada, kind="break_glass").exists()
    assert any(ada.email in message.to for message in mail.outbox)
    assert "allerg" not in mail.outbox[-1].body.lower()

    clock.advance(dt.timedelta(minutes=14))
    assert client.get(f"/api/v1/patients/{alice.pk}").status_code == 200
    clock.advance(dt.timedelta(minutes=14))
    assert client.get(f"/api/v1/patients/{alice.pk}").status_code == 200
    clock.advance(dt.timedelta(minutes=3))
    assert client.get(f"/api/v1/patients/{alice.pk}").status_code == 404


def test_break_the_glass_refused_for_undesignated_staff(
    client_for: ClientFor, alice: User, dr_tex: User
) -> None:
    response = client_for(dr_tex).post(
        f"/api/v1/patients/{alice.pk}/break-glass",
        {"reason": "I would just like to have a look", "minutes": 30},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "not_permitted"
    assert last_event("break_glass.start").outcome == "denied"
    assert client_for(dr_tex).get(f"/api/v1/patients/{alice.pk}").status_code == 404


def test_patient_cannot_break_the_glass(client_for: ClientFor, alice: User, bob: User) -> None:
    response = client_for(alice).post(
        f"/api/v1/patients/{bob.pk}/break-glass",
        {"reason": "I want to see my neighbour's record", "minutes": 30},
        content_type="application/json",
    )
    assert response.status_code in {400, 403}
    assert client_for(alice).get(f"/api/v1/patients/{bob.pk}").status_code == 404


def test_coordinator_builds_care_team_but_patient_cannot(
    client_for: ClientFor, alice: User, bob: User, cody: User, dr_tex: User
) -> None:
    url = f"/api/v1/patients/{alice.pk}/care-team"
    denied = client_for(bob).post(url, {"staff_id": dr_tex.pk}, content_type="application/json")
    assert denied.status_code == 403
    added = client_for(cody).post(url, {"staff_id": dr_tex.pk}, content_type="application/json")
    assert added.status_code == 201
    assert client_for(dr_tex).get(f"/api/v1/patients/{alice.pk}").status_code == 200
