from collections.abc import Callable

from django.test import Client

from carepath.accounts.actions import do_create_api_token
from carepath.accounts.models import User
from carepath.audit.models import AuditEvent
from carepath.workqueue.models import WorkItem
from carepath.workqueue.registry import register_subject_url
from tests.workqueue.helpers import make_item

ClientFor = Callable[..., Client]


def test_clinician_lists_and_claims_through_the_api(
    client_for: ClientFor, alice: User, dr_tex: User, dr_ny: User
) -> None:
    register_subject_url("test.case", lambda item: f"/test/cases/{item.subject_id}/")
    item = make_item(alice)
    tex = client_for(dr_tex)
    listed = tex.get("/api/v1/queue").json()
    assert [row["id"] for row in listed] == [item.pk]
    assert listed[0]["sla_status"] == "ok"
    assert listed[0]["subject_url"] == f"/test/cases/{item.subject_id}/"
    assert client_for(dr_ny).get("/api/v1/queue").json() == []
    assert client_for(dr_ny).get(f"/api/v1/queue/{item.pk}").status_code == 404

    claimed = tex.post(f"/api/v1/queue/{item.pk}/claim")
    assert claimed.status_code == 200
    assert claimed.json()["status"] == "claimed"
    assert claimed.json()["claimed_by_id"] == dr_tex.pk
    assert tex.post(f"/api/v1/queue/{item.pk}/renew").status_code == 200
    assert tex.get(f"/api/v1/queue/{item.pk}").json()["id"] == item.pk
    assert tex.post(f"/api/v1/queue/{item.pk}/release").json()["status"] == "open"
    assert tex.post(f"/api/v1/queue/{item.pk}/claim").status_code == 200
    assert tex.post(f"/api/v1/queue/{item.pk}/complete").json()["status"] == "done"
    assert tex.post("/api/v1/queue/claim-next").status_code == 204


def test_double_claim_is_a_409_with_the_error_shape(
    alice: User, dr_tex: User, dr_tex2: User
) -> None:
    item = make_item(alice)
    first = Client(HTTP_AUTHORIZATION=f"Bearer {do_create_api_token(dr_tex, 'a').raw}")
    second = Client(HTTP_AUTHORIZATION=f"Bearer {do_create_api_token(dr_tex2, 'b').raw}")
    assert first.post("/api/v1/queue/claim-next").json()["id"] == item.pk
    lost = second.post(f"/api/v1/queue/{item.pk}/claim")
    assert lost.status_code == 409
    assert lost.json()["error"]["code"] == "already_claimed"


def test_patient_gets_404_even_for_her_own_item(
    client_for: ClientFor, alice: User, bob: User
) -> None:
    item = make_item(alice)
    for patient in (alice, bob):
        client = client_for(patient)
        assert client.get(f"/api/v1/queue/{item.pk}").status_code == 404
        assert client.get("/api/v1/queue").status_code == 403
        assert client.post(f"/api/v1/queue/{item.pk}/claim").status_code == 403
    assert AuditEvent.objects.filter(
        action="work_item.read", actor_id=alice.pk, outcome="denied"
    ).exists()


def test_coordinator_sees_everything_and_reassigns(
    client_for: ClientFor, alice: User, bob: User, dr_tex: User, dr_tex2: User, cody: User
) -> None:
    tx = make_item(alice)
    ny = make_item(bob, state="NY", specialty="primary-care")
    coordinator = client_for(cody)
    listed = {row["id"]: row for row in coordinator.get("/api/v1/queue").json()}
    assert set(listed) == {tx.pk, ny.pk}
    assert coordinator.get(f"/api/v1/queue/{ny.pk}").status_code == 200

    refused = client_for(dr_tex).post(
        f"/api/v1/queue/{tx.pk}/reassign",
        {"clinician_id": dr_tex2.pk},
        content_type="application/json",
    )
    assert refused.status_code == 403
    routed = coordinator.post(
        f"/api/v1/queue/{tx.pk}/reassign",
        {"clinician_id": dr_tex2.pk},
        content_type="application/json",
    )
    assert routed.status_code == 200
    assert routed.json()["reassigned_to_id"] == dr_tex2.pk
    unknown = coordinator.post(
        f"/api/v1/queue/{tx.pk}/reassign",
        {"clinician_id": alice.pk},
        content_type="application/json",
    )
    assert unknown.status_code == 400
    assert unknown.json()["error"]["fields"][0]["field"] == "clinician_id"
    assert WorkItem.objects.get(pk=tx.pk).reassigned_to == dr_tex2
