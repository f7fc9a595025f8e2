"""Waiting room, admission, on-demand care, ICE servers, ending a visit and the in-visit note,
through the API and pages, with who must not do each."""

import base64
import datetime as dt
import hashlib
import hmac
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client, override_settings

from carepath.accounts.models import User
from carepath.audit.models import AuditEvent
from carepath.care.models import EncounterStatus
from carepath.core import clock
from carepath.scheduling.models import AppointmentStatus
from carepath.visits import actions
from carepath.visits.models import AdmissionState, Participant, Visit, VisitKind
from carepath.workqueue.models import WorkItem, WorkItemKind, WorkItemStatus

ClientFor = Callable[..., Client]


def post(client: Client, path: str, body: object | None = None) -> tuple[int, Any]:
    response = client.post(f"/api/v1/visits{path}", body or {}, content_type="application/json")
    return response.status_code, response.json()


def test_check_in_puts_the_patient_on_the_queue_due_at_the_start(
    visit: Visit, alice: User, client_for: ClientFor
) -> None:
    alice_client = client_for(alice)
    status, body = post(alice_client, f"/{visit.pk}/check-in", {"camera": True, "microphone": True})
    assert status == 200, body
    assert body == {
        "visit_id": visit.pk,
        "kind": "scheduled",
        "status": "open",
        "admitted": False,
        "ahead": 0,
        "estimated_wait_minutes": 5,
    }
    post(alice_client, f"/{visit.pk}/check-in", {"camera": True, "microphone": True})
    items = WorkItem.objects.filter(kind=WorkItemKind.WAITING_ROOM, subject_id=str(visit.pk))
    assert items.count() == 1
    assert items.get().due_at == visit.starts_at
    participant = Participant.objects.get(visit=visit, user=alice)
    assert participant.device_check["camera"] is True
    assert participant.state == AdmissionState.WAITING


def test_only_the_visits_clinician_admits(
    visit: Visit, alice: User, bob: User, dr_ny: User, dr_tex: User, client_for: ClientFor
) -> None:
    post(client_for(alice), f"/{visit.pk}/check-in", {"camera": True, "microphone": True})
    participant = Participant.objects.get(visit=visit, user=alice)
    for outsider, refused in ((alice, 403), (bob, 403), (dr_ny, 404)):
        status, _ = post(client_for(outsider), f"/{visit.pk}/participants/{participant.pk}/admit")
        assert status == refused  # patients stop at the role gate; other clinicians see nothing
    assert AuditEvent.objects.filter(action="visit.admit", outcome="denied").count() == 1
    assert AuditEvent.objects.filter(action="api.call", outcome="denied").count() == 2
    status, body = post(client_for(dr_tex), f"/{visit.pk}/participants/{participant.pk}/admit")
    assert status == 200
    assert body["state"] == "admitted"
    fresh = Visit.objects.select_related("encounter", "appointment").get(pk=visit.pk)
    assert fresh.status == "in_progress"
    assert fresh.encounter is not None
    assert fresh.encounter.status == EncounterStatus.IN_PROGRESS
    assert fresh.encounter.clinician_id == dr_tex.pk
    assert fresh.appointment is not None
    assert fresh.appointment.encounter_id == fresh.encounter_id
    item = WorkItem.objects.get(kind=WorkItemKind.WAITING_ROOM, subject_id=str(visit.pk))
    assert item.status == WorkItemStatus.DONE


def test_pages_are_only_for_participants(
    visit: Visit, alice: User, bob: User, dr_tex: User, dr_ny: User, client_for: ClientFor
) -> None:
    assert client_for(alice).get(f"/visits/{visit.pk}/wait/").status_code == 200
    assert client_for(dr_tex).get(f"/visits/{visit.pk}/").status_code == 200
    for outsider in (bob, dr_ny):
        assert client_for(outsider).get(f"/visits/{visit.pk}/wait/").status_code == 404
        assert client_for(outsider).get(f"/visits/{visit.pk}/").status_code == 404
    assert Client().get(f"/visits/{visit.pk}/wait/").status_code == 404
    assert AuditEvent.objects.filter(action="visit.wait", outcome="denied").count() == 3


@override_settings(
    TURN_URLS=["turn:127.0.0.1:3478?transport=udp"],
    TURN_SECRET="s3cret",
    STUN_URLS=["stun:127.0.0.1:3478"],
    TURN_CREDENTIAL_TTL_SECONDS=600,
)
def test_ice_servers_carry_ephemeral_turn_credentials(
    visit: Visit, alice: User, bob: User, client_for: ClientFor
) -> None:
    response = client_for(alice).get(f"/api/v1/visits/{visit.pk}/ice-servers")
    assert response.status_code == 200
    body = response.json()
    stun, turn = body["iceServers"]
    assert stun == {"urls": ["stun:127.0.0.1:3478"]}
    expiry, user_key = turn["username"].split(":")
    assert user_key == f"u{alice.pk}"
    assert 590 <= int(expiry) - int(dt.datetime.now(dt.UTC).timestamp()) <= 600
    expected = base64.b64encode(
        hmac.new(b"s3cret", turn["username"].encode(), hashlib.sha1).digest()
    ).decode()
    assert turn["credential"] == expected
    assert body["iceTransportPolicy"] == "all"
    assert client_for(bob).get(f"/api/v1/visits/{visit.pk}/ice-servers").status_code == 404
    assert Client().get(f"/api/v1/visits/{visit.pk}/ice-servers").status_code == 401


def test_on_demand_request_claim_and_estimate(
    alice: User, bob: User, dr_tex: User, dr_ny: User, client_for: ClientFor
) -> None:
    status, body = post(client_for(alice), "/on-demand", {"reason": "sore throat"})
    assert status == 201, body
    visit = Visit.objects.get(pk=body["visit"]["id"])
    assert visit.kind == VisitKind.ON_DEMAND
    item = visit.work_item
    assert item is not None
    assert (item.kind, item.required_state) == (WorkItemKind.ON_DEMAND, "TX")
    assert item.due_at - visit.created_at == dt.timedelta(minutes=10)
    assert body["wait"]["estimated_wait_minutes"] >= 1
    # Asking again while waiting gives the same request.
    _, again = post(client_for(alice), "/on-demand", {})
    assert again["visit"]["id"] == visit.pk
    # bob waits behind alice.
    _, bobs = post(client_for(bob), "/on-demand", {})
    assert bobs["wait"]["ahead"] == 1
    # A clinician not licensed in Texas may not take alice's request; dr_tex may.
    status, _ = post(client_for(dr_ny), f"/{visit.pk}/take")
    assert status == 404
    status, taken = post(client_for(dr_tex), f"/{visit.pk}/take")
    assert status == 200, taken
    visit.refresh_from_db()
    assert visit.clinician_id == dr_tex.pk
    assert visit.status == "in_progress"
    patient = Participant.objects.get(visit=visit, user=alice)
    assert patient.state == AdmissionState.ADMITTED
    assert WorkItem.objects.get(pk=item.pk).status == WorkItemStatus.DONE
    # The patient's waiting page now shows them admitted (the socket takes them in).
    assert client_for(alice).get(f"/api/v1/visits/{visit.pk}/wait").json()["admitted"] is True
    status, _ = post(client_for(dr_ny), f"/{visit.pk}/take")
    assert status == 404
    # Staff may not ask for on-demand care.
    status, _ = post(client_for(dr_tex), "/on-demand", {})
    assert status == 403


def test_on_demand_page_flow(alice: User, client_for: ClientFor) -> None:
    client = client_for(alice)
    assert b"See the next available clinician" in client.get("/visits/").content
    response = client.post("/visits/on-demand/", {"reason": "rash", "service": "dermatology"})
    assert response.status_code == 302
    visit = Visit.objects.get(patient=alice)
    assert response["Location"] == f"/visits/{visit.pk}/wait/"
    page = client.get(response["Location"])
    assert b"Expected wait: about" in page.content
    bad = client.post("/visits/on-demand/", {"service": "astrology"})
    assert bad.status_code == 400


def test_ending_the_visit_finishes_encounter_and_appointment(
    visit: Visit, alice: User, dr_tex: User, client_for: ClientFor
) -> None:
    start = clock.now()
    clock.freeze(start)
    patient = actions.do_ensure_participant(visit, alice)
    actions.do_admit(dr_tex, visit.pk, patient.pk)
    clock.freeze(start + dt.timedelta(minutes=17, seconds=30))
    assert post(client_for(alice), f"/{visit.pk}/end")[0] == 403
    status, body = post(client_for(dr_tex), f"/{visit.pk}/end")
    assert status == 200
    assert body["duration_seconds"] == 1050
    fresh = Visit.objects.select_related("encounter", "appointment").get(pk=visit.pk)
    assert fresh.encounter is not None
    assert fresh.encounter.status == EncounterStatus.FINISHED
    assert fresh.encounter.ended_at == start + dt.timedelta(minutes=17, seconds=30)
    assert fresh.appointment is not None
    assert fresh.appointment.status == AppointmentStatus.COMPLETED
    page = client_for(alice).get(f"/visits/{visit.pk}/")
    assert b"This visit has ended" in page.content
    assert post(client_for(alice), f"/{visit.pk}/check-in")[0] == 409


def test_soap_note_side_panel_api(
    visit: Visit, alice: User, dr_tex: User, client_for: ClientFor
) -> None:
    doctor = client_for(dr_tex)
    assert doctor.get(f"/api/v1/visits/{visit.pk}/note").status_code == 409  # not started
    patient = actions.do_ensure_participant(visit, alice)
    actions.do_admit(dr_tex, visit.pk, patient.pk)
    note = {"subjective": "Itchy rash", "objective": "", "assessment": "", "plan": ""}
    response = doctor.put(f"/api/v1/visits/{visit.pk}/note", note, content_type="application/json")
    assert response.status_code == 200
    assert response.json()["status"] == "draft"
    assert post(doctor, f"/{visit.pk}/note/sign")[0] == 422  # needs assessment and plan
    note.update(assessment="Contact dermatitis", plan="Hydrocortisone 1%")
    doctor.put(f"/api/v1/visits/{visit.pk}/note", note, content_type="application/json")
    status, signed = post(doctor, f"/{visit.pk}/note/sign")
    assert status == 200
    assert signed["status"] == "signed"
    assert client_for(alice).get(f"/api/v1/visits/{visit.pk}/note").status_code == 403


def test_chat_history_is_for_admitted_participants(
    visit: Visit, alice: User, dr_tex: User, client_for: ClientFor
) -> None:
    patient = actions.do_ensure_participant(visit, alice)
    assert client_for(alice).get(f"/api/v1/visits/{visit.pk}/chat").status_code == 403
    actions.do_admit(dr_tex, visit.pk, patient.pk)
    status, _ = post(client_for(alice), f"/{visit.pk}/chat", {"text": "hello"})
    assert status == 201
    history = client_for(dr_tex).get(f"/api/v1/visits/{visit.pk}/chat").json()
    assert [m["text"] for m in history] == ["hello"]


@pytest.mark.parametrize("values", [{"heart_rate": 400}, {"spo2": 101}, {"bp_systolic": 120}])
def test_implausible_vitals_are_refused(
    visit: Visit, alice: User, dr_tex: User, client_for: ClientFor, values: dict[str, float]
) -> None:
    patient = actions.do_ensure_participant(visit, alice)
    actions.do_admit(dr_tex, visit.pk, patient.pk)
    status, body = post(client_for(dr_tex), f"/{visit.pk}/vitals", {"values": values})
    assert status == 422, body


def test_claiming_in_the_queue_then_opening_the_visit_brings_the_patient_in(
    alice: User, dr_tex: User, client_for: ClientFor
) -> None:
    from carepath.workqueue.actions import do_claim

    visit = actions.do_request_on_demand(alice, reason="cough")
    assert visit.work_item is not None
    do_claim(dr_tex, visit.work_item.pk)
    response = client_for(dr_tex).get(f"/visits/{visit.pk}/")
    assert response.status_code == 200
    visit.refresh_from_db()
    assert visit.clinician_id == dr_tex.pk
    assert Participant.objects.get(visit=visit, user=alice).state == AdmissionState.ADMITTED
