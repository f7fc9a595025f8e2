"""Refills: the patient asks; the prescriber has it first; after the delay any eligible
clinician may take it (sweep and clock seam); approve renews with the same checks; deny
tells the patient why."""

import datetime as dt
from typing import Any

import pytest
from django.test import override_settings

from carepath.access.actions import do_add_care_relationship
from carepath.accounts.models import User
from carepath.audit.models import AuditEvent
from carepath.care.events import EpisodeEvent
from carepath.core import clock
from carepath.core.errors import ActionRefused
from carepath.notifications.models import Notification
from carepath.pharmacy.models import Pharmacy
from carepath.prescribing.actions import SignOff, do_cancel_prescription
from carepath.prescribing.models import (
    Medication,
    MedicationStatement,
    Prescription,
    RefillRequest,
)
from carepath.prescribing.refills import (
    do_approve_refill,
    do_request_refill,
    sweep_refill_routing,
)
from carepath.workqueue.actions import do_claim
from carepath.workqueue.models import WorkItem, WorkItemKind
from carepath.workqueue.selectors import eligible_items_for
from tests.personas import make_clinician
from tests.prescribing.conftest import (
    Care,
    ClientFor,
    add_video,
    api_post,
    signed_prescription,
    totp_code,
)

pytestmark = pytest.mark.django_db

API = "/api/v1/prescribing"


@pytest.fixture(autouse=True)
def _frozen_clock() -> None:
    """Frozen before any record is made, so the delays below are exact."""
    clock.freeze(clock.now())


@pytest.fixture
def dr_two(clinic: None) -> User:
    """A second Texas dermatologist: eligible for Alice's refill once it is widened."""
    return make_clinician("dr.two@example.com", "1679576722", ["TX"], ["dermatology"])


@pytest.fixture
def doxy_rx(
    alice: User, dr_tex: User, meds: dict[str, Medication], alice_care: Care, cvs: Pharmacy
) -> Prescription:
    return signed_prescription(dr_tex, alice_care.async_encounter, meds["Doxycycline"], cvs)


def request_refill_api(client: Any, prescription: Prescription, note: str = "") -> Any:
    return api_post(
        client,
        f"{API}/prescriptions/{prescription.pk}/refill-requests",
        {"note": note},
        **{"Idempotency-Key": f"refill-{prescription.pk}"},
    )


def test_refill_goes_to_the_prescriber_first_then_to_any_eligible_clinician(
    alice: User,
    bob: User,
    dr_tex: User,
    dr_two: User,
    dr_ny: User,
    doxy_rx: Prescription,
    client_for: ClientFor,
) -> None:
    response = request_refill_api(client_for(alice), doxy_rx, "Almost out, still a few spots.")
    assert response.status_code == 201, response.json()
    refill = RefillRequest.objects.get(pk=response.json()["id"])
    # A retry with the same key is the same request.
    assert (
        request_refill_api(client_for(alice), doxy_rx, "Almost out, still a few spots.").json()[
            "id"
        ]
        == refill.pk
    )
    item = WorkItem.objects.get(pk=refill.work_item_id or 0)
    assert item.kind == WorkItemKind.REFILL
    assert item.subject_type == "prescribing.refill"
    assert item.reassigned_to_id == dr_tex.pk
    assert Notification.objects.filter(
        user=dr_tex, url=f"/prescriptions/refills/{refill.pk}/"
    ).exists()

    # Prescriber-first: dr_two (eligible otherwise) neither sees nor takes it; dr_ny never.
    assert item in eligible_items_for(dr_tex)
    assert item not in eligible_items_for(dr_two)
    assert item not in eligible_items_for(dr_ny)
    with pytest.raises(ActionRefused):
        do_claim(dr_two, item.pk)
    assert client_for(dr_two).get(f"/prescriptions/refills/{refill.pk}/").status_code == 404
    assert sweep_refill_routing() == 0  # not due yet

    clock.advance(dt.timedelta(hours=24, minutes=1))
    assert sweep_refill_routing() == 1
    assert sweep_refill_routing() == 0  # idempotent
    item.refresh_from_db()
    assert item.reassigned_to_id is None
    assert item in eligible_items_for(dr_two)
    assert item not in eligible_items_for(dr_ny)  # still: licensed in the patient's state
    assert client_for(dr_ny).get(f"/prescriptions/refills/{refill.pk}/").status_code == 404
    assert client_for(bob).get(f"{API}/refill-requests/{refill.pk}").status_code == 404
    page = client_for(dr_two).get(f"/prescriptions/refills/{refill.pk}/")
    assert page.status_code == 200
    assert b"Claim this request" in page.content
    do_claim(dr_two, item.pk)
    review = client_for(dr_two).get(f"/prescriptions/refills/{refill.pk}/")
    assert b"Approve and sign" in review.content
    assert AuditEvent.objects.filter(action="refill.widen", object_id=str(refill.pk)).exists()


@override_settings(PRESCRIBING_REFILL_PRESCRIBER_HOURS=2)
def test_delay_is_a_setting(alice: User, dr_tex: User, dr_two: User, doxy_rx: Prescription) -> None:
    refill = do_request_refill(alice, doxy_rx)
    clock.advance(dt.timedelta(hours=1))
    assert sweep_refill_routing() == 0
    clock.advance(dt.timedelta(hours=1, seconds=1))
    assert sweep_refill_routing() == 1
    item = WorkItem.objects.get(pk=refill.work_item_id or 0)
    assert item in eligible_items_for(dr_two)


def test_prescriber_approves_a_renewal_linked_to_the_original(
    alice: User,
    dr_tex: User,
    doxy_rx: Prescription,
    client_for: ClientFor,
    episode_events: list[EpisodeEvent],
    django_capture_on_commit_callbacks: Any,
) -> None:
    refill = do_request_refill(alice, doxy_rx, note="Please renew")
    tex = client_for(dr_tex)
    not_held = api_post(tex, f"{API}/refill-requests/{refill.pk}/approve", {})
    assert not_held.status_code == 409
    assert not_held.json()["error"]["code"] == "not_held"
    do_claim(dr_tex, refill.work_item_id or 0)
    with django_capture_on_commit_callbacks(execute=True):
        approved = api_post(tex, f"{API}/refill-requests/{refill.pk}/approve", {})
    assert approved.status_code == 201, approved.json()
    renewal = Prescription.objects.get(pk=approved.json()["id"])
    assert renewal.status == "active"
    assert renewal.refill_of_id == doxy_rx.pk
    doxy_rx.refresh_from_db()
    assert doxy_rx.status == "completed"
    refill.refresh_from_db()
    assert refill.status == "approved"
    assert refill.new_prescription_id == renewal.pk
    assert WorkItem.objects.get(pk=refill.work_item_id or 0).status == "done"
    active = MedicationStatement.objects.filter(patient=alice, status="active")
    assert [s.prescription_id for s in active] == [renewal.pk]
    assert [e.name for e in episode_events] == ["refill.approved"]
    assert Notification.objects.filter(user=alice, title__startswith="Refill approved").exists()
    again = api_post(tex, f"{API}/refill-requests/{refill.pk}/approve", {})
    assert again.status_code == 409


def test_denial_reason_is_shown_to_the_patient(
    alice: User,
    bob: User,
    dr_tex: User,
    doxy_rx: Prescription,
    client_for: ClientFor,
    episode_events: list[EpisodeEvent],
    django_capture_on_commit_callbacks: Any,
) -> None:
    refill = do_request_refill(alice, doxy_rx)
    do_claim(dr_tex, refill.work_item_id or 0)
    tex = client_for(dr_tex)
    blank = api_post(tex, f"{API}/refill-requests/{refill.pk}/deny", {"reason": "  "})
    assert blank.status_code == 422
    assert (
        api_post(
            client_for(alice), f"{API}/refill-requests/{refill.pk}/deny", {"reason": "x"}
        ).status_code
        == 403
    )
    reason = "Two courses in a row is enough; please book a video visit so we can look again."
    with django_capture_on_commit_callbacks(execute=True):
        page = tex.post(f"/prescriptions/refills/{refill.pk}/deny/", {"reason": reason})
    assert page.status_code == 302
    refill.refresh_from_db()
    assert refill.status == "denied"
    assert refill.decision_reason == reason
    assert [e.name for e in episode_events] == ["refill.denied"]
    notice = Notification.objects.get(user=alice, kind="refill_denied")
    assert notice.body == reason
    assert notice.url == f"/prescriptions/{doxy_rx.pk}/"
    patient_page = client_for(alice).get(f"/prescriptions/{doxy_rx.pk}/")
    assert reason.encode() in patient_page.content
    assert client_for(bob).get(f"/prescriptions/{doxy_rx.pk}/").status_code == 404
    assert reason not in str(client_for(bob).get(f"{API}/refill-requests/{refill.pk}").content)


def test_patient_rules_for_asking(
    alice: User,
    bob: User,
    dr_tex: User,
    doxy_rx: Prescription,
    client_for: ClientFor,
) -> None:
    assert request_refill_api(client_for(bob), doxy_rx).status_code == 404
    assert request_refill_api(client_for(dr_tex), doxy_rx).status_code == 403
    page = client_for(alice).post(f"/prescriptions/{doxy_rx.pk}/refill/", {"note": "Thanks"})
    assert page.status_code == 302
    twice = client_for(alice).post(f"/prescriptions/{doxy_rx.pk}/refill/", {"note": "again"})
    assert twice.status_code == 400
    assert b"already asked" in twice.content
    # Cancelling the prescription withdraws the request and its work item.
    do_cancel_prescription(dr_tex, doxy_rx, reason="Course finished.")
    refill = RefillRequest.objects.get(prescription=doxy_rx)
    assert refill.status == "cancelled"
    assert WorkItem.objects.get(pk=refill.work_item_id or 0).status == "cancelled"
    after = request_refill_api(client_for(alice), doxy_rx)
    assert after.status_code == 409


def test_controlled_refill_needs_video_with_the_approver_and_mfa(
    alice: User,
    dr_tex: User,
    dr_two: User,
    meds: dict[str, Medication],
    alice_care: Care,
    cvs: Pharmacy,
) -> None:
    add_video(alice_care, dr_tex)
    tramadol = signed_prescription(
        dr_tex, alice_care.async_encounter, meds["Tramadol"], cvs, quantity=20, refills=0
    )
    refill = do_request_refill(alice, tramadol)
    clock.advance(dt.timedelta(hours=25))
    sweep_refill_routing()
    do_claim(dr_two, refill.work_item_id or 0)
    with pytest.raises(ActionRefused) as refused:
        do_approve_refill(dr_two, refill, SignOff(mfa_code=totp_code(dr_two)))
    assert refused.value.code == "controlled_needs_video"
    assert "requires a live video visit with you in this episode" in refused.value.message
    assert AuditEvent.objects.filter(
        action="refill.approve", outcome="denied", actor_id=dr_two.pk
    ).exists()


def test_prescriber_without_a_current_licence_is_skipped(
    alice: User, dr_tex: User, dr_two: User, doxy_rx: Prescription
) -> None:
    from carepath.accounts.models import License

    License.objects.filter(clinician__user=dr_tex).update(expires_on=dt.date(2020, 1, 1))
    refill = do_request_refill(alice, doxy_rx)
    item = WorkItem.objects.get(pk=refill.work_item_id or 0)
    assert item.reassigned_to_id is None
    assert refill.widened_at is not None
    assert item in eligible_items_for(dr_two)
    do_add_care_relationship(dr_two, alice.pk)
