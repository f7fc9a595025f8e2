"""Prescribing from an encounter: draft -> sign, the checks (allergy, duplicate, licensure,
controlled substances with a live video visit and MFA), the FHIR handoff, the pharmacy's
statuses mirrored back, cancelling, and who must not see or do any of it."""

from typing import Any

import pytest
from django.test import Client

from carepath.access.actions import do_add_care_relationship
from carepath.accounts.models import User
from carepath.audit.models import AuditEvent
from carepath.care.events import EpisodeEvent
from carepath.notifications.models import Notification
from carepath.pharmacy.models import Dispatch, Pharmacy
from carepath.pharmacy.registry import notify_status_on_commit
from carepath.prescribing.actions import OrderDetails, SignOff, do_create_draft
from carepath.prescribing.models import (
    AllergyIntolerance,
    Medication,
    MedicationStatement,
    Prescription,
    PrescriptionEvent,
    StatementSource,
)
from tests.personas import make_clinician
from tests.prescribing.conftest import (
    Care,
    ClientFor,
    add_video,
    api_post,
    open_async_care,
    order,
    signed_prescription,
    totp_code,
)

pytestmark = pytest.mark.django_db

API = "/api/v1/prescribing"


def draft_body(care: Care, medication: Medication, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "encounter_id": care.async_encounter.pk,
        "medication_id": medication.pk,
        "strength": medication.strengths[-1],
        "dose_form": medication.dose_forms[0],
        "sig": medication.sig_templates[0],
        "quantity": 28,
        "days_supply": 14,
        "refills": 0,
    }
    body.update(overrides)
    return body


def denied(action: str, **detail: Any) -> bool:
    events = AuditEvent.objects.filter(action=action, outcome="denied")
    return any(all(e.detail.get(k) == v for k, v in detail.items()) for e in events)


def test_prescribe_from_async_case_signs_records_hands_off_and_tells_the_patient(
    alice: User,
    bob: User,
    dr_tex: User,
    dr_ny: User,
    meds: dict[str, Medication],
    alice_care: Care,
    client_for: ClientFor,
    episode_events: list[EpisodeEvent],
    django_capture_on_commit_callbacks: Any,
) -> None:
    tex = client_for(dr_tex)
    doxy = meds["Doxycycline"]
    created = api_post(
        tex, f"{API}/prescriptions", draft_body(alice_care, doxy), **{"Idempotency-Key": "rx-1"}
    )
    assert created.status_code == 201, created.json()
    draft = created.json()
    assert draft["status"] == "draft"
    assert draft["pharmacy"].startswith("CVS Pharmacy")  # the patient's preferred pharmacy
    assert draft["state_of_care"] == "TX"
    assert draft["warnings"] == []
    assert draft["blocking"] == []
    # A retry with the same key is the same draft, never a second one.
    again = api_post(
        tex, f"{API}/prescriptions", draft_body(alice_care, doxy), **{"Idempotency-Key": "rx-1"}
    )
    assert again.json()["id"] == draft["id"]
    assert Prescription.objects.count() == 1

    # The patient never sees a draft.
    assert client_for(alice).get(f"{API}/prescriptions/{draft['id']}").status_code == 404

    with django_capture_on_commit_callbacks(execute=True):
        signed = api_post(tex, f"{API}/prescriptions/{draft['id']}/sign", {})
    assert signed.status_code == 200, signed.json()
    body = signed.json()
    assert body["status"] == "active"
    prescription = Prescription.objects.get(pk=draft["id"])
    statement = MedicationStatement.objects.get(prescription=prescription)
    assert statement.source == StatementSource.PRESCRIPTION
    assert statement.status == "active"
    dispatch = Dispatch.objects.get(order_type="MedicationRequest", order_id=str(prescription.pk))
    assert dispatch.document["resourceType"] == "MedicationRequest"
    assert dispatch.document["medicationCodeableConcept"]["coding"][0]["code"] == "3640"
    assert [e.name for e in episode_events] == ["prescription.signed"]
    assert episode_events[0].episode_id == alice_care.episode.pk
    assert Notification.objects.filter(
        user=alice, url=f"/prescriptions/{prescription.pk}/"
    ).exists()
    assert AuditEvent.objects.filter(
        action="prescription.sign", object_id=str(prescription.pk)
    ).exists()

    fhir = client_for(alice).get(f"{API}/prescriptions/{prescription.pk}/fhir")
    assert fhir.status_code == 200
    resource = fhir.json()
    assert resource["status"] == "active"
    assert resource["intent"] == "order"
    assert resource["subject"]["reference"] == f"Patient/{alice.pk}"
    assert resource["dispenseRequest"]["numberOfRepeatsAllowed"] == 0

    # Who must not see it: another patient, a clinician without a care relationship.
    for outsider in (bob, dr_ny):
        assert client_for(outsider).get(f"{API}/prescriptions/{prescription.pk}").status_code == 404
        assert (
            client_for(outsider).get(f"{API}/prescriptions/{prescription.pk}/fhir").status_code
            == 404
        )
    assert denied("prescription.read")
    # Only clinicians write and sign.
    assert (
        api_post(
            client_for(alice), f"{API}/prescriptions", draft_body(alice_care, doxy)
        ).status_code
        == 403
    )


def test_allergy_warning_fires_and_must_be_acknowledged_with_a_reason(
    alice: User,
    dr_tex: User,
    meds: dict[str, Medication],
    alice_care: Care,
    client_for: ClientFor,
) -> None:
    AllergyIntolerance.objects.create(
        patient=alice,
        substance="Penicillin",
        reaction="Hives",
        severity="moderate",
        recorded_by=alice,
    )
    tex = client_for(dr_tex)
    draft = api_post(
        tex, f"{API}/prescriptions", draft_body(alice_care, meds["Amoxicillin"])
    ).json()
    assert [w["kind"] for w in draft["warnings"]] == ["allergy"]
    assert "Penicillin" in draft["warnings"][0]["message"]

    refused = api_post(tex, f"{API}/prescriptions/{draft['id']}/sign", {})
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "allergy_override_required"
    assert denied("prescription.sign", code="allergy_override_required")
    assert Prescription.objects.get(pk=draft["id"]).status == "draft"

    signed = api_post(
        tex,
        f"{API}/prescriptions/{draft['id']}/sign",
        {"allergy_override_reason": "Remote rash as a child; tolerated amoxicillin in 2024."},
    )
    assert signed.status_code == 200, signed.json()
    prescription = Prescription.objects.get(pk=draft["id"])
    assert prescription.allergy_override_reason.startswith("Remote rash")
    assert prescription.warnings_at_signing[0]["kind"] == "allergy"

    # Cephalexin is not a penicillin: no warning.
    other = api_post(tex, f"{API}/prescriptions", draft_body(alice_care, meds["Cephalexin"])).json()
    assert other["warnings"] == []


def test_duplicate_warnings_for_same_class_and_same_medication(
    alice: User,
    dr_tex: User,
    meds: dict[str, Medication],
    alice_care: Care,
    cvs: Pharmacy,
    client_for: ClientFor,
) -> None:
    MedicationStatement.objects.create(
        patient=alice, name="doxycycline 100 mg", source="patient", recorded_by=alice
    )
    tex = client_for(dr_tex)
    mino = api_post(tex, f"{API}/prescriptions", draft_body(alice_care, meds["Minocycline"])).json()
    assert [w["kind"] for w in mino["warnings"]] == ["duplicate"]

    signed_prescription(dr_tex, alice_care.async_encounter, meds["Sertraline"], cvs)
    escitalopram = api_post(
        tex, f"{API}/prescriptions", draft_body(alice_care, meds["Escitalopram"])
    ).json()
    assert escitalopram["warnings"][0]["kind"] == "duplicate"
    assert "SSRIs" in escitalopram["warnings"][0]["message"]

    refused = api_post(tex, f"{API}/prescriptions/{escitalopram['id']}/sign", {})
    assert refused.json()["error"]["code"] == "duplicate_override_required"
    ok = api_post(
        tex,
        f"{API}/prescriptions/{escitalopram['id']}/sign",
        {"duplicate_override_reason": "Switching: sertraline will be stopped."},
    )
    assert ok.status_code == 200


def test_licensure_is_a_hard_refusal_in_the_state_of_care(
    alice: User,
    bob: User,
    dr_tex: User,
    meds: dict[str, Medication],
    cvs: Pharmacy,
    client_for: ClientFor,
) -> None:
    # Alice lives in Texas but submitted this case from New York: New York is the state.
    care = open_async_care(alice, dr_tex, state="NY")
    response = api_post(
        client_for(dr_tex),
        f"{API}/prescriptions",
        draft_body(care, meds["Doxycycline"], pharmacy_id=cvs.pk),
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "not_licensed"
    assert "New York" in response.json()["error"]["message"]
    assert denied("prescription.create", code="not_licensed")

    # Bob (NY profile, no case): the profile's state decides.
    ny_care = open_async_care(bob, dr_tex, state="NY")
    ny_care.case.delete()
    with pytest.raises(Exception, match="no licence valid today in New York"):
        do_create_draft(dr_tex, ny_care.async_encounter, order(meds["Doxycycline"], cvs))


def test_controlled_substance_from_async_only_episode_is_refused_with_the_reason(
    alice: User,
    dr_tex: User,
    meds: dict[str, Medication],
    alice_care: Care,
    client_for: ClientFor,
) -> None:
    tex = client_for(dr_tex)
    response = api_post(tex, f"{API}/prescriptions", draft_body(alice_care, meds["Tramadol"]))
    assert response.status_code == 403
    body = response.json()["error"]
    assert body["code"] == "controlled_needs_video"
    assert "requires a live video visit with you in this episode" in body["message"]
    assert denied("prescription.create", code="controlled_needs_video")
    assert not Prescription.objects.exists()

    # A video visit with ANOTHER clinician does not count.
    other = make_clinician("dr.other@example.com", "1679576722", ["TX"], ["dermatology"])
    do_add_care_relationship(other, alice.pk)
    add_video(alice_care, other)
    again = api_post(tex, f"{API}/prescriptions", draft_body(alice_care, meds["Alprazolam"]))
    assert again.json()["error"]["code"] == "controlled_needs_video"

    # The prescribe page says it before anything is written.
    page = tex.get(
        f"/prescriptions/new/?encounter={alice_care.async_encounter.pk}"
        f"&medication={meds['Tramadol'].pk}"
    )
    assert page.status_code == 200
    assert b"requires a live video visit with you in this episode" in page.content
    assert b'id="prescribe-form"' not in page.content


def test_controlled_substance_after_video_needs_mfa_reauthentication(
    alice: User,
    dr_tex: User,
    meds: dict[str, Medication],
    alice_care: Care,
    client_for: ClientFor,
) -> None:
    add_video(alice_care, dr_tex)
    tex = client_for(dr_tex)
    created = api_post(
        tex, f"{API}/prescriptions", draft_body(alice_care, meds["Tramadol"], quantity=20)
    )
    assert created.status_code == 201, created.json()
    draft = created.json()
    assert draft["controlled"]
    assert draft["mfa_required"]
    url = f"{API}/prescriptions/{draft['id']}/sign"

    missing = api_post(tex, url, {})
    assert missing.status_code == 403
    assert missing.json()["error"]["code"] == "mfa_required"
    wrong = api_post(
        tex, url, {"mfa_code": "000000" if totp_code(dr_tex) != "000000" else "111111"}
    )
    assert wrong.status_code == 403
    assert wrong.json()["error"]["code"] == "mfa_invalid"
    assert denied("prescription.sign", code="mfa_required")
    assert denied("prescription.sign", code="mfa_invalid")
    assert Prescription.objects.get(pk=draft["id"]).status == "draft"

    code = totp_code(dr_tex)
    ok = api_post(tex, url, {"mfa_code": code})
    assert ok.status_code == 200, ok.json()
    assert ok.json()["status"] == "active"
    sign_audit = AuditEvent.objects.get(action="prescription.sign", outcome="allowed")
    assert sign_audit.detail["mfa"] is True

    # The same code cannot be used again (allauth refuses a replayed code).
    second = api_post(
        tex, f"{API}/prescriptions", draft_body(alice_care, meds["Pregabalin"], quantity=60)
    ).json()
    replay = api_post(tex, f"{API}/prescriptions/{second['id']}/sign", {"mfa_code": code})
    assert replay.json()["error"]["code"] == "mfa_invalid"

    # Schedule II: never refills.
    too_many = api_post(
        tex, f"{API}/prescriptions", draft_body(alice_care, meds["Methylphenidate"], refills=1)
    )
    assert too_many.status_code == 422
    assert too_many.json()["error"]["code"] == "out_of_range"


def test_bad_input_gets_clear_errors_not_500s(
    dr_tex: User, meds: dict[str, Medication], alice_care: Care, client_for: ClientFor
) -> None:
    tex = client_for(dr_tex)
    doxy = meds["Doxycycline"]
    cases: list[tuple[dict[str, Any], str]] = [
        ({"strength": "999 mg"}, "invalid_strength"),
        ({"dose_form": "suppository"}, "invalid_dose_form"),
        ({"sig": "   "}, "sig_required"),
        ({"pharmacy_id": 987654}, "pharmacy_required"),
        ({"medication_id": 987654}, "unknown_medication"),
    ]
    for overrides, code in cases:
        response = api_post(tex, f"{API}/prescriptions", draft_body(alice_care, doxy, **overrides))
        assert response.status_code == 422, (overrides, response.json())
        assert response.json()["error"]["code"] == code
    assert api_post(tex, f"{API}/prescriptions", {"encounter_id": "x"}).status_code == 422
    missing = api_post(
        tex, f"{API}/prescriptions", draft_body(alice_care, doxy, encounter_id=987654)
    )
    assert missing.status_code == 404


def test_pharmacy_statuses_are_mirrored_with_history_and_patient_notices(
    alice: User,
    dr_tex: User,
    meds: dict[str, Medication],
    alice_care: Care,
    cvs: Pharmacy,
    client_for: ClientFor,
    django_capture_on_commit_callbacks: Any,
) -> None:
    prescription = signed_prescription(dr_tex, alice_care.async_encounter, meds["Doxycycline"], cvs)
    assert prescription.dispatch_state == "queued"
    for status in ("sent", "received", "filled", "sent"):  # a late "sent" never steps back
        with django_capture_on_commit_callbacks(execute=True):
            notify_status_on_commit("MedicationRequest", str(prescription.pk), status)
    prescription.refresh_from_db()
    assert prescription.dispatch_state == "filled"
    kinds = list(
        PrescriptionEvent.objects.filter(prescription=prescription).values_list("kind", flat=True)
    )
    assert kinds == ["signed", "sent", "received", "filled"]
    titles = list(Notification.objects.filter(user=alice).values_list("title", flat=True))
    assert any("ready at CVS Pharmacy" in t for t in titles)
    page = client_for(alice).get(f"/prescriptions/{prescription.pk}/")
    assert b"Filled: ready at the pharmacy" in page.content


def test_cancel_and_entered_in_error_keep_the_record(
    alice: User,
    dr_tex: User,
    meds: dict[str, Medication],
    alice_care: Care,
    cvs: Pharmacy,
    client_for: ClientFor,
) -> None:
    prescription = signed_prescription(dr_tex, alice_care.async_encounter, meds["Cetirizine"], cvs)
    tex = client_for(dr_tex)
    url = f"{API}/prescriptions/{prescription.pk}/cancel"
    assert api_post(tex, url, {"reason": " "}).json()["error"]["code"] == "reason_required"
    assert api_post(client_for(alice), url, {"reason": "no"}).status_code == 403
    done = api_post(tex, url, {"reason": "Wrong patient chart.", "entered_in_error": True})
    assert done.status_code == 200
    assert done.json()["status"] == "entered_in_error"
    statement = MedicationStatement.objects.get(prescription=prescription)
    assert statement.status == "entered_in_error"
    assert Prescription.objects.filter(pk=prescription.pk).exists()
    assert api_post(tex, url, {"reason": "again"}).status_code == 409


def test_patient_lists_and_downloads_the_pdf_others_get_404(
    alice: User,
    bob: User,
    dr_tex: User,
    dr_ny: User,
    meds: dict[str, Medication],
    alice_care: Care,
    cvs: Pharmacy,
    client_for: ClientFor,
) -> None:
    prescription = signed_prescription(dr_tex, alice_care.async_encounter, meds["Doxycycline"], cvs)
    draft = do_create_draft(dr_tex, alice_care.async_encounter, order(meds["Mupirocin"], cvs))
    patient = client_for(alice)
    listing = patient.get("/prescriptions/")
    assert listing.status_code == 200
    assert b"Doxycycline" in listing.content
    assert b"Mupirocin" not in listing.content
    api_list = patient.get(f"{API}/patients/{alice.pk}/prescriptions").json()
    assert [p["id"] for p in api_list] == [prescription.pk]

    pdf = patient.get(f"/prescriptions/{prescription.pk}/pdf/")
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert (
        pdf["Content-Disposition"] == f'attachment; filename="prescription-{prescription.pk}.pdf"'
    )
    assert pdf["X-Content-Type-Options"] == "nosniff"
    assert pdf.content.startswith(b"%PDF")
    assert AuditEvent.objects.filter(
        action="prescription.download_pdf", actor_id=alice.pk, object_id=str(prescription.pk)
    ).exists()
    assert client_for(dr_tex).get(f"/prescriptions/{prescription.pk}/pdf/").status_code == 200

    assert patient.get(f"/prescriptions/{draft.pk}/pdf/").status_code == 404
    assert patient.get(f"/prescriptions/{draft.pk}/").status_code == 404
    for outsider in (bob, dr_ny):
        client = client_for(outsider)
        assert client.get(f"/prescriptions/{prescription.pk}/").status_code == 404
        assert client.get(f"/prescriptions/{prescription.pk}/pdf/").status_code == 404
    assert client_for(bob).get(f"{API}/patients/{alice.pk}/prescriptions").status_code == 404
    assert AuditEvent.objects.filter(
        action="prescription.read", actor_id=bob.pk, outcome="denied"
    ).exists()


def test_encounter_tag_lists_prescriptions_and_offers_prescribe_to_clinicians(
    alice: User,
    bob: User,
    dr_tex: User,
    meds: dict[str, Medication],
    alice_care: Care,
    cvs: Pharmacy,
) -> None:
    from django.template import Context, Template

    signed_prescription(dr_tex, alice_care.async_encounter, meds["Doxycycline"], cvs)
    template = Template("{% load prescribing %}{% encounter_prescribing encounter user %}")

    def render(user: User) -> str:
        return template.render(Context({"encounter": alice_care.async_encounter, "user": user}))

    clinician_html = render(dr_tex)
    assert "Doxycycline 100 mg capsule" in clinician_html
    assert f"/prescriptions/new/?encounter={alice_care.async_encounter.pk}" in clinician_html
    patient_html = render(alice)
    assert "Doxycycline" in patient_html
    assert "/prescriptions/new/" not in patient_html
    assert "Doxycycline" not in render(bob)


def test_timeline_source_and_summary_line(
    alice: User,
    dr_tex: User,
    meds: dict[str, Medication],
    alice_care: Care,
    cvs: Pharmacy,
) -> None:
    from carepath.care.summary import _sections
    from carepath.care.timeline import registered_sources

    prescription = signed_prescription(dr_tex, alice_care.async_encounter, meds["Doxycycline"], cvs)
    do_create_draft(dr_tex, alice_care.async_encounter, order(meds["Mupirocin"], cvs))
    entries = list(registered_sources()["prescribing"](alice, [alice_care.episode.pk]))
    assert [e.kind for e in entries] == ["prescription.signed"]
    assert entries[0].url == f"/prescriptions/{prescription.pk}/"
    lines = _sections["medications"](alice_care.async_encounter)
    assert lines == [
        "Doxycycline 100 mg capsule: take 1 capsule by mouth twice a day for 14 days with a "
        "full glass of water. 28 capsules, no refills. Sent to CVS Pharmacy, Austin."
    ]


def test_only_the_prescriber_signs_and_orders_stay_immutable(
    alice: User, dr_tex: User, meds: dict[str, Medication], alice_care: Care, cvs: Pharmacy
) -> None:
    from carepath.core.errors import ActionRefused
    from carepath.prescribing.actions import do_sign_prescription

    colleague = make_clinician("dr.colleague@example.com", "1679576722", ["TX"], ["dermatology"])
    do_add_care_relationship(colleague, alice.pk)
    draft = do_create_draft(dr_tex, alice_care.async_encounter, order(meds["Doxycycline"], cvs))
    with pytest.raises(ActionRefused) as refused:
        do_sign_prescription(colleague, draft, SignOff())
    assert refused.value.code == "not_prescriber"
    details: OrderDetails = order(meds["Doxycycline"], cvs, quantity=0)
    with pytest.raises(ActionRefused):
        do_create_draft(dr_tex, alice_care.async_encounter, details)


def test_sign_page_shows_mfa_field_for_controlled_and_signs(
    alice: User,
    dr_tex: User,
    meds: dict[str, Medication],
    alice_care: Care,
    client_for: ClientFor,
) -> None:
    add_video(alice_care, dr_tex)
    tex: Client = client_for(dr_tex)
    base = f"/prescriptions/new/?encounter={alice_care.async_encounter.pk}"
    choose = tex.get(base)
    assert choose.status_code == 200
    assert b"Choose a medication" in choose.content
    zolpidem = meds["Zolpidem"]
    form = tex.get(f"{base}&medication={zolpidem.pk}")
    assert b'id="prescribe-form"' in form.content
    bad = tex.post(
        f"{base}&medication={zolpidem.pk}",
        {
            "strength": "5 mg",
            "dose_form": "tablet",
            "sig": "",
            "quantity": "14",
            "days_supply": "14",
            "refills": "0",
            "pharmacy": str(Pharmacy.objects.get().pk),
        },
    )
    assert bad.status_code == 400
    assert b"This field is required" in bad.content
    posted = tex.post(
        f"{base}&medication={zolpidem.pk}",
        {
            "strength": "5 mg",
            "dose_form": "tablet",
            "sig": "Take 1 tablet at bedtime.",
            "quantity": "14",
            "days_supply": "14",
            "refills": "0",
            "pharmacy": str(Pharmacy.objects.get().pk),
        },
    )
    assert posted.status_code == 302
    detail_url = posted["Location"]
    draft_page = tex.get(detail_url)
    assert b'name="mfa_code"' in draft_page.content
    prescription = Prescription.objects.get()
    wrong = tex.post(f"/prescriptions/{prescription.pk}/sign/", {"mfa_code": ""})
    assert wrong.status_code == 400
    assert b"authenticator" in wrong.content
    signed = tex.post(f"/prescriptions/{prescription.pk}/sign/", {"mfa_code": totp_code(dr_tex)})
    assert signed.status_code == 302
    prescription.refresh_from_db()
    assert prescription.status == "active"
    assert client_for(alice).get(f"/prescriptions/{prescription.pk}/sign/").status_code == 403
