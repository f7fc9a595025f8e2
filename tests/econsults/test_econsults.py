"""eConsults: asked about a patient one cares for, routed by specialty (and the patient's
state) through the one queue, answered by the specialist who claimed it, asker notified."""

from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from carepath.accounts.models import User
from carepath.audit.models import AuditEvent
from carepath.care.models import Encounter
from carepath.econsults.models import EConsult
from carepath.notifications.models import Notification
from carepath.workqueue.actions import do_claim
from carepath.workqueue.models import WorkItem, WorkItemStatus
from carepath.workqueue.selectors import eligible_items_for
from tests.intake.conftest import jpeg_bytes

pytestmark = pytest.mark.django_db

QUESTION = "Persistent plaque on the left elbow; is this psoriasis, and would you biopsy?"


def ask(client: Client, patient: User, specialty: str = "dermatology", **extra: Any) -> Any:
    body = {"patient_id": patient.pk, "specialty": specialty, "question": QUESTION, **extra}
    return client.post("/api/v1/econsults", body, content_type="application/json")


def test_econsult_is_routed_by_specialty_answered_and_the_asker_notified(
    alice: User,
    alices_doctor: User,
    dr_tex: User,
    dr_derm: User,
    client_for: Callable[..., Client],
) -> None:
    asker = client_for(alices_doctor)
    photo = asker.post(
        "/api/v1/files",
        {
            "patient_id": alice.pk,
            "file": SimpleUploadedFile("elbow.jpg", jpeg_bytes(), content_type="image/jpeg"),
        },
    )
    assert photo.status_code == 201, photo.content
    response = ask(
        asker,
        alice,
        file_ids=[photo.json()["id"]],
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "submitted"
    assert len(body["files"]) == 1
    item = WorkItem.objects.get(pk=body["work_item_id"])
    assert item.kind == "econsult"
    assert item.required_state == "TX"
    assert item.required_specialty is not None
    assert item.required_specialty.code == "dermatology"
    assert item in eligible_items_for(dr_derm)
    assert item in eligible_items_for(dr_tex)
    assert item not in eligible_items_for(alices_doctor)  # NY only, no dermatology
    assert Encounter.objects.get(pk=body["encounter_id"]).mode == "econsult"

    # Before claiming, the specialist has no relationship with the patient: nothing to see.
    derm = client_for(dr_derm)
    assert derm.get(f"/api/v1/econsults/{body['id']}").status_code == 404
    do_claim(dr_derm, item.pk)
    page = derm.get(f"/staff/econsults/{body['id']}/")
    assert page.status_code == 200
    assert QUESTION.encode() in page.content
    answered = derm.post(
        f"/api/v1/econsults/{body['id']}/answer",
        {"answer": "Likely psoriasis; no biopsy needed. Start a topical steroid."},
        content_type="application/json",
    )
    assert answered.status_code == 200, answered.json()
    assert answered.json()["status"] == "answered"
    item.refresh_from_db()
    assert item.status == WorkItemStatus.DONE
    notice = Notification.objects.get(user=alices_doctor, kind="econsult")
    assert notice.url == f"/staff/econsults/{body['id']}/"
    mine = client_for(alices_doctor).get(f"/staff/econsults/{body['id']}/")
    assert b"Likely psoriasis" in mine.content


def test_primary_care_econsult_goes_to_primary_care_only(
    alice: User,
    alices_doctor: User,
    dr_tex: User,
    dr_derm: User,
    client_for: Callable[..., Client],
) -> None:
    body = ask(client_for(alices_doctor), alice, specialty="primary-care").json()
    item = WorkItem.objects.get(pk=body["work_item_id"])
    assert item in eligible_items_for(dr_tex)
    assert item not in eligible_items_for(dr_derm)


def test_who_must_not(
    alice: User,
    bob: User,
    alices_doctor: User,
    dr_derm: User,
    client_for: Callable[..., Client],
) -> None:
    # A clinician without a care relationship cannot ask about the patient.
    refused = ask(client_for(dr_derm), alice)
    assert refused.status_code == 404
    assert AuditEvent.objects.filter(
        actor_id=dr_derm.pk, action="econsult.create", outcome="denied"
    ).exists()
    # Patients cannot ask, and cannot read provider-to-provider questions.
    assert ask(client_for(bob), alice).status_code == 403
    body = ask(client_for(alices_doctor), alice).json()
    assert client_for(alice).get(f"/api/v1/econsults/{body['id']}").status_code == 403
    # The specialist must hold the item to answer; the asker cannot answer their own.
    answer = {"answer": "Fine."}
    derm = client_for(dr_derm)
    assert (
        derm.post(
            f"/api/v1/econsults/{body['id']}/answer", answer, content_type="application/json"
        ).status_code
        == 404
    )
    own = client_for(alices_doctor).post(
        f"/api/v1/econsults/{body['id']}/answer", answer, content_type="application/json"
    )
    assert own.status_code == 409
    assert EConsult.objects.get(pk=body["id"]).status == "submitted"


def test_bad_input_and_idempotency(
    alice: User, alices_doctor: User, client_for: Callable[..., Client]
) -> None:
    client = client_for(alices_doctor)
    short = ask(client, alice, question="help")
    assert short.status_code == 422
    unknown = ask(client, alice, specialty="astrology")
    assert unknown.status_code == 422
    assert unknown.json()["error"]["code"] == "unknown_specialty"
    headers = {"Idempotency-Key": "ec-1"}
    body = {"patient_id": alice.pk, "specialty": "dermatology", "question": QUESTION}
    first = client.post("/api/v1/econsults", body, content_type="application/json", headers=headers)
    again = client.post("/api/v1/econsults", body, content_type="application/json", headers=headers)
    assert first.json()["id"] == again.json()["id"]
    assert EConsult.objects.count() == 1


def test_econsult_page_form(
    alice: User, alices_doctor: User, dr_derm: User, client_for: Callable[..., Client]
) -> None:
    client = client_for(alices_doctor)
    assert client.get(f"/staff/econsults/new/?patient={alice.pk}").status_code == 200
    response = client.post(
        "/staff/econsults/new/",
        {
            "patient_id": alice.pk,
            "specialty": "dermatology",
            "question": QUESTION,
            "files": [SimpleUploadedFile("x.jpg", jpeg_bytes(), content_type="image/jpeg")],
        },
    )
    assert response.status_code == 302
    econsult = EConsult.objects.get()
    assert econsult.attachments.count() == 1
    assert client.get("/staff/econsults/").status_code == 200
    assert client_for(alice).get("/staff/econsults/").status_code == 403
