"""Fixes from the security review of prescribing: the controlled-substance rule needs the
patient on video, signing re-checks the pharmacy, formulary and encounter, NUL characters are
refused, a cancelled order is withdrawn from the pharmacy, wrong MFA codes lock signing, a
refill reviewer sees only the summary before claiming, and the API applies the page's
pharmacy-state rule."""

import datetime as dt
import json
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from carepath.accounts.models import User
from carepath.audit.models import AuditEvent
from carepath.care.actions import do_close_episode, do_start_encounter
from carepath.core import clock
from carepath.core.errors import ActionRefused
from carepath.pharmacy.actions import do_issue_network_client
from carepath.pharmacy.models import Dispatch, Pharmacy, PreferredPharmacy
from carepath.pharmacy.registry import notify_status_on_commit
from carepath.prescribing import checks
from carepath.prescribing.actions import (
    SignOff,
    do_cancel_prescription,
    do_create_draft,
    do_sign_prescription,
)
from carepath.prescribing.actions_health import do_add_allergy, do_add_medication
from carepath.prescribing.models import Medication, Prescription, PrescriptionEvent
from carepath.prescribing.refills import do_approve_refill, do_deny_refill, do_request_refill
from carepath.visits.actions import (
    do_admit,
    do_change_mode,
    do_end_visit,
    do_ensure_participant,
    do_issue_link,
    do_open_link,
)
from carepath.visits.models import Visit
from carepath.workqueue.actions import do_claim
from tests.personas import make_clinician
from tests.prescribing.conftest import (
    Care,
    ClientFor,
    add_video,
    admit_guest,
    admit_patient,
    api_post,
    clinician_in,
    make_pharmacy,
    open_video_visit,
    order,
    signed_prescription,
    totp_code,
)

pytestmark = pytest.mark.django_db

API = "/api/v1/prescribing"


def wrong_code(user: User) -> str:
    return "000000" if totp_code(user) != "000000" else "111111"


def refusal(fn: Any, *args: Any, **kwargs: Any) -> ActionRefused:
    with pytest.raises(ActionRefused) as refused:
        fn(*args, **kwargs)
    return refused.value


# --- 1. The controlled-substance rule needs the patient on video ------------------------------


def test_a_visit_with_only_a_guest_does_not_meet_the_controlled_rule(
    alice: User, dr_tex: User, meds: dict[str, Medication], alice_care: Care, cvs: Pharmacy
) -> None:
    visit = open_video_visit(alice_care, dr_tex)
    admit_guest(visit, dr_tex)  # the visit (and its encounter) start: no patient in it
    visit.refresh_from_db()
    assert visit.status == "in_progress"
    assert not checks.has_live_video_with(dr_tex, alice_care.episode)
    refused = refusal(
        do_create_draft, dr_tex, alice_care.async_encounter, order(meds["Tramadol"], cvs)
    )
    assert refused.code == "controlled_needs_video"
    assert "requires a live video visit with you in this episode" in refused.message
    do_end_visit(dr_tex, visit.pk)  # even once it was "held"
    assert not checks.has_live_video_with(dr_tex, alice_care.episode)


def test_patient_admitted_after_a_switch_to_chat_does_not_count(
    alice: User, dr_tex: User, alice_care: Care
) -> None:
    visit = open_video_visit(alice_care, dr_tex)
    admit_guest(visit, dr_tex)
    do_change_mode(clinician_in(visit, dr_tex).pk, "chat")
    admit_patient(visit, dr_tex)
    assert not checks.has_live_video_with(dr_tex, alice_care.episode)
    # Back to video with the patient in the room: now they are on video together.
    do_change_mode(clinician_in(visit, dr_tex).pk, "video")
    assert checks.has_live_video_with(dr_tex, alice_care.episode)


def test_patient_admitted_on_video_counts_for_that_clinician_only(
    alice: User, dr_tex: User, meds: dict[str, Medication], alice_care: Care, cvs: Pharmacy
) -> None:
    visit = open_video_visit(alice_care, dr_tex)
    admit_patient(visit, dr_tex)
    assert checks.has_live_video_with(dr_tex, alice_care.episode)  # in progress
    do_end_visit(dr_tex, visit.pk)
    assert checks.has_live_video_with(dr_tex, alice_care.episode)  # held
    other = make_clinician("dr.other@example.com", "1245319599", ["TX"], ["dermatology"])
    assert not checks.has_live_video_with(other, alice_care.episode)
    draft = do_create_draft(dr_tex, alice_care.async_encounter, order(meds["Tramadol"], cvs))
    assert draft.status == "draft"


def test_a_facilitated_video_visit_counts(
    alice: User, dr_tex: User, faye: User, alice_care: Care
) -> None:
    encounter = do_start_encounter(
        alice_care.episode,
        "facilitated",
        by=dr_tex,
        clinician=dr_tex,
        escalated_from=alice_care.async_encounter,
    )
    now = clock.now()
    visit = Visit.objects.create(
        kind="on_demand",
        patient=alice,
        clinician=dr_tex,
        encounter=encounter,
        mode="video",
        starts_at=now,
        ends_at=now + dt.timedelta(minutes=30),
    )
    do_ensure_participant(visit, dr_tex)
    _, token = do_issue_link(visit, by=dr_tex, role="telefacilitator", user=faye)
    opened = do_open_link(visit.pk, token, user=faye, bound_participant=None, staff_mfa_ok=True)
    assert opened.participant is not None
    do_admit(dr_tex, visit.pk, opened.participant.pk)
    assert not checks.has_live_video_with(dr_tex, alice_care.episode)  # only the facilitator
    admit_patient(visit, dr_tex)
    visit.refresh_from_db()
    assert visit.facilitated
    assert checks.has_live_video_with(dr_tex, alice_care.episode)


# --- 2 and 10. Signing re-checks the pharmacy, the formulary and the encounter ------------------


def test_signing_rechecks_pharmacy_and_formulary(
    alice: User, dr_tex: User, meds: dict[str, Medication], alice_care: Care, cvs: Pharmacy
) -> None:
    add_video(alice_care, dr_tex)
    draft = do_create_draft(
        dr_tex, alice_care.async_encounter, order(meds["Tramadol"], cvs, quantity=20)
    )
    Pharmacy.objects.filter(pk=cvs.pk).update(accepts_controlled=False)
    refused = refusal(do_sign_prescription, dr_tex, draft, SignOff(mfa_code=wrong_code(dr_tex)))
    assert (refused.code, refused.field) == ("pharmacy_not_controlled", "pharmacy")
    assert AuditEvent.objects.filter(
        action="prescription.sign", outcome="denied", detail__code="pharmacy_not_controlled"
    ).exists()

    doxy = do_create_draft(dr_tex, alice_care.async_encounter, order(meds["Doxycycline"], cvs))
    medication = meds["Doxycycline"]
    medication.strengths = [s for s in medication.strengths if s != doxy.strength]
    medication.save()
    assert refusal(do_sign_prescription, dr_tex, doxy, SignOff()).code == "formulary_changed"


def test_signing_rechecks_the_encounter_and_episode(
    alice: User, dr_tex: User, meds: dict[str, Medication], alice_care: Care, cvs: Pharmacy
) -> None:
    first = do_create_draft(dr_tex, alice_care.async_encounter, order(meds["Doxycycline"], cvs))
    do_close_episode(alice_care.episode, by=dr_tex)
    assert refusal(do_sign_prescription, dr_tex, first, SignOff()).code == "episode_closed"


def test_refill_falls_back_to_the_original_pharmacy_or_refuses(
    alice: User, dr_tex: User, meds: dict[str, Medication], alice_care: Care, cvs: Pharmacy
) -> None:
    add_video(alice_care, dr_tex)
    tramadol = signed_prescription(
        dr_tex, alice_care.async_encounter, meds["Tramadol"], cvs, quantity=20, refills=0
    )
    no_controlled = make_pharmacy("4412399", "Corner Drugs", "Austin", "TX")
    Pharmacy.objects.filter(pk=no_controlled.pk).update(accepts_controlled=False)
    PreferredPharmacy.objects.filter(patient=alice).update(pharmacy=no_controlled)

    refill = do_request_refill(alice, tramadol)
    do_claim(dr_tex, refill.work_item_id or 0)
    cache.clear()  # allauth remembers the code just used; this test needs the same one again
    renewal = do_approve_refill(dr_tex, refill, SignOff(mfa_code=totp_code(dr_tex)))
    assert renewal.pharmacy_id == cvs.pk  # the preferred one takes no controlled substances

    # Neither can take it now: refused with a clear reason, nothing signed.
    Pharmacy.objects.filter(pk=cvs.pk).update(active=False)
    second = do_request_refill(alice, renewal)
    do_claim(dr_tex, second.work_item_id or 0)
    refused = refusal(do_approve_refill, dr_tex, second, SignOff(mfa_code="123456"))
    assert refused.code == "no_pharmacy"
    assert "Corner Drugs does not dispense controlled substances" in refused.message
    assert Prescription.objects.filter(refill_of=renewal).count() == 0


# --- 3. NUL characters --------------------------------------------------------------------------


def test_nul_characters_are_field_errors_in_every_action(
    alice: User, dr_tex: User, meds: dict[str, Medication], alice_care: Care, cvs: Pharmacy
) -> None:
    cases = [
        (do_add_allergy, (alice, alice.pk), {"substance": "peni\x00cillin"}, "substance"),
        (do_add_medication, (alice, alice.pk), {"name": "aspirin", "dosage": "\x00"}, "dosage"),
        (
            do_create_draft,
            (dr_tex, alice_care.async_encounter, order(meds["Doxycycline"], cvs, sig="a\x00")),
            {},
            "sig",
        ),
    ]
    for fn, args, kwargs, field in cases:
        refused = refusal(fn, *args, **kwargs)
        assert (refused.code, refused.field, refused.status) == ("invalid_character", field, 422)
    rx = signed_prescription(dr_tex, alice_care.async_encounter, meds["Doxycycline"], cvs)
    assert refusal(do_request_refill, alice, rx, note="x\x00").field == "note"
    assert refusal(do_cancel_prescription, dr_tex, rx, reason="\x00").field == "reason"
    refill = do_request_refill(alice, rx)
    do_claim(dr_tex, refill.work_item_id or 0)
    assert refusal(do_deny_refill, dr_tex, refill, reason="no\x00").field == "reason"


def test_nul_in_the_formulary_search_is_a_422(dr_tex: User, client_for: ClientFor) -> None:
    response = client_for(dr_tex).get(f"{API}/medications", {"q": "doxy\x00"})
    assert response.status_code == 422


# --- 4. A cancelled order is withdrawn from the pharmacy ----------------------------------------


def test_cancelling_withdraws_the_order_through_the_outbox(
    alice: User,
    dr_tex: User,
    ada: User,
    meds: dict[str, Medication],
    alice_care: Care,
    cvs: Pharmacy,
    client_for: ClientFor,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        rx = signed_prescription(dr_tex, alice_care.async_encounter, meds["Doxycycline"], cvs)
    dispatch = Dispatch.objects.get(order_id=str(rx.pk))
    assert dispatch.status == "sent"
    with django_capture_on_commit_callbacks(execute=True):
        do_cancel_prescription(dr_tex, rx, reason="Switching to another antibiotic.")
    dispatch.refresh_from_db()
    assert dispatch.status == "cancelled"
    assert dispatch.document["status"] == "cancelled"
    assert dispatch.document["statusReason"]["text"] == "Switching to another antibiotic."
    assert list(dispatch.history.values_list("to_status", flat=True)) == [
        "queued",
        "sent",
        "cancelled",
    ]
    rx.refresh_from_db()
    assert rx.dispatch_state == "cancelled"

    # The network learns of it from the feed, and acknowledges.
    _, token = do_issue_network_client(ada, "Network")
    network: dict[str, Any] = {"HTTP_AUTHORIZATION": f"PharmacyNetwork {token}"}
    client = Client()
    items = client.get("/api/v1/pharmacy/outbox", **network).json()["items"]
    assert [(i["order_id"], i["status"], i["document"]["status"]) for i in items] == [
        (str(rx.pk), "cancelled", "cancelled")
    ]
    url = f"/api/v1/pharmacy/deliveries/{dispatch.delivery_id}/status"

    def report(status: str) -> Any:
        body = json.dumps({"status": status})
        return client.post(url, body, content_type="application/json", **network)

    filled = report("filled")
    assert filled.status_code == 409
    assert filled.json()["error"]["code"] == "order_cancelled"
    ack = report("cancelled")
    assert ack.status_code == 200
    assert ack.json()["changed"] is True
    assert client.get("/api/v1/pharmacy/outbox", **network).json()["items"] == []


def test_an_order_already_filled_cannot_be_withdrawn_and_the_prescriber_is_told(
    alice: User,
    dr_tex: User,
    meds: dict[str, Medication],
    alice_care: Care,
    cvs: Pharmacy,
    client_for: ClientFor,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        rx = signed_prescription(dr_tex, alice_care.async_encounter, meds["Doxycycline"], cvs)
    Dispatch.objects.filter(order_id=str(rx.pk)).update(status="filled", filled_at=clock.now())
    with django_capture_on_commit_callbacks(execute=True):
        notify_status_on_commit("MedicationRequest", str(rx.pk), "filled")
    page = client_for(dr_tex).post(
        f"/prescriptions/{rx.pk}/cancel/", {"reason": "Wrong dose."}, follow=True
    )
    assert b"had already filled this prescription" in page.content
    rx.refresh_from_db()
    assert rx.status == "cancelled"
    assert PrescriptionEvent.objects.filter(prescription=rx, kind="not_withdrawn").exists()
    assert Dispatch.objects.get(order_id=str(rx.pk)).status == "filled"


# --- 5. Wrong MFA codes lock signing ------------------------------------------------------------


def test_five_wrong_codes_lock_controlled_signing_for_fifteen_minutes(
    alice: User,
    dr_tex: User,
    meds: dict[str, Medication],
    alice_care: Care,
    cvs: Pharmacy,
    client_for: ClientFor,
) -> None:
    add_video(alice_care, dr_tex)
    draft = do_create_draft(
        dr_tex, alice_care.async_encounter, order(meds["Tramadol"], cvs, quantity=20)
    )
    tex = client_for(dr_tex)
    url = f"{API}/prescriptions/{draft.pk}/sign"
    codes = []
    for attempt in range(5):
        answer = api_post(tex, url, {"mfa_code": wrong_code(dr_tex)})
        codes.append(answer.json()["error"]["code"])
        assert answer.status_code in (403, 429), attempt
    assert codes == ["mfa_invalid"] * 4 + ["mfa_locked"]
    locked = api_post(tex, url, {"mfa_code": totp_code(dr_tex)})
    assert locked.status_code == 429
    assert "locked for 15 more minutes" in locked.json()["error"]["message"]
    failures = AuditEvent.objects.filter(action="prescription.mfa_failed", actor_id=dr_tex.pk)
    assert sorted(e.detail["failures"] for e in failures) == [1, 2, 3, 4, 5]
    assert AuditEvent.objects.filter(
        action="prescription.mfa_lockout", actor_id=dr_tex.pk, outcome="denied"
    ).exists()

    clock.freeze(clock.now() + dt.timedelta(minutes=16))
    try:
        signed = do_sign_prescription(dr_tex, draft, SignOff(mfa_code=totp_code(dr_tex)))
    finally:
        clock.unfreeze()
    assert signed.status == "active"


def test_a_good_code_resets_the_count(
    alice: User, dr_tex: User, meds: dict[str, Medication], alice_care: Care, cvs: Pharmacy
) -> None:
    add_video(alice_care, dr_tex)
    first = do_create_draft(dr_tex, alice_care.async_encounter, order(meds["Tramadol"], cvs))
    for _ in range(4):
        assert refusal(
            do_sign_prescription, dr_tex, first, SignOff(mfa_code=wrong_code(dr_tex))
        ).code == ("mfa_invalid")
    do_sign_prescription(dr_tex, first, SignOff(mfa_code=totp_code(dr_tex)))
    second = do_create_draft(dr_tex, alice_care.async_encounter, order(meds["Pregabalin"], cvs))
    assert (
        refusal(do_sign_prescription, dr_tex, second, SignOff(mfa_code=wrong_code(dr_tex))).code
        == "mfa_invalid"
    )


# --- 6. A refill reviewer sees the summary until they claim it ----------------------------------


def test_refill_reviewer_sees_only_the_summary_before_claiming(
    alice: User,
    dr_tex: User,
    meds: dict[str, Medication],
    alice_care: Care,
    cvs: Pharmacy,
    client_for: ClientFor,
) -> None:
    do_add_allergy(alice, alice.pk, substance="Latex", reaction="hives")
    rx = signed_prescription(
        dr_tex, alice_care.async_encounter, meds["Doxycycline"], cvs, sig="Take one daily"
    )
    refill = do_request_refill(alice, rx, note="Running out on Friday.")
    clock.freeze(clock.now() + dt.timedelta(hours=25))
    try:
        from carepath.prescribing.refills import sweep_refill_routing

        sweep_refill_routing()
        dr_two = make_clinician("dr.two@example.com", "1679576722", ["TX"], ["dermatology"])
        reviewer = client_for(dr_two)
        before = reviewer.get(f"/prescriptions/refills/{refill.pk}/").content.decode()
        assert "Doxycycline" in before
        assert "Running out on Friday." in before
        assert alice.display_name in before
        assert "Latex" not in before
        assert "context-allergies" not in before
        assert rx.sig not in before  # the order's details wait too
        do_claim(dr_two, refill.work_item_id or 0)
        after = reviewer.get(f"/prescriptions/refills/{refill.pk}/").content.decode()
        assert "Latex" in after
        assert rx.sig in after
    finally:
        clock.unfreeze()


# --- 9. The API applies the page's pharmacy-state rule ------------------------------------------


def test_api_refuses_a_pharmacy_in_another_state_but_allows_mail_order(
    alice: User,
    dr_tex: User,
    meds: dict[str, Medication],
    alice_care: Care,
    client_for: ClientFor,
) -> None:
    brooklyn = make_pharmacy("5512345", "Brooklyn Drugs", "Brooklyn", "NY")
    mail = make_pharmacy("5512346", "Ship Rx", "Albany", "NY", mail_order=True)
    body = {
        "encounter_id": alice_care.async_encounter.pk,
        "medication_id": meds["Doxycycline"].pk,
        "strength": meds["Doxycycline"].strengths[-1],
        "dose_form": meds["Doxycycline"].dose_forms[0],
        "sig": "Take one capsule twice a day.",
        "quantity": 28,
        "days_supply": 14,
        "refills": 0,
    }
    tex = client_for(dr_tex)
    refused = api_post(tex, f"{API}/prescriptions", {**body, "pharmacy_id": brooklyn.pk})
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "pharmacy_out_of_state"
    ok = api_post(tex, f"{API}/prescriptions", {**body, "pharmacy_id": mail.pk})
    assert ok.status_code == 201, ok.json()
