"""What a walk-through of the prescribing pages asked for: unique ids per row form, the draft
message, quantities that read well, links back to the case or visit, error summaries that
say what is wrong, and the preferred pharmacy on "My health"."""

import re
import zlib
from collections import Counter

import pytest
from django.test import Client

from carepath.accounts.models import User
from carepath.care.models import Encounter
from carepath.pharmacy.models import Pharmacy
from carepath.prescribing.actions import do_create_draft
from carepath.prescribing.fhir import medication_request_resource
from carepath.prescribing.forms import quantity_help
from carepath.prescribing.models import AllergyIntolerance, Medication, MedicationStatement
from carepath.prescribing.units import quantity_text
from carepath.prescribing.views import prescription_pdf_bytes
from tests.prescribing.conftest import (
    Care,
    ClientFor,
    add_video,
    open_video_visit,
    order,
    signed_prescription,
)

pytestmark = pytest.mark.django_db

HEALTH = "/prescriptions/health/"


def ids_of(html: str) -> list[str]:
    return re.findall(r'\sid="([^"]+)"', html)


def assert_ids_unique_and_labels_resolve(html: str) -> None:
    ids = ids_of(html)
    doubled = [name for name, count in Counter(ids).items() if count > 1]
    assert not doubled, f"repeated ids: {doubled}"
    for target in re.findall(r'<label for="([^"]+)"', html):
        assert target in ids, f"a label points at {target}, which is not on the page"


def two_of_each(patient: User) -> tuple[list[AllergyIntolerance], list[MedicationStatement]]:
    allergies = [
        AllergyIntolerance.objects.create(patient=patient, substance=name, recorded_by=patient)
        for name in ("Penicillin", "Latex")
    ]
    statements = [
        MedicationStatement.objects.create(
            patient=patient, name=name, source="patient", recorded_by=patient
        )
        for name in ("Vitamin D", "Loratadine")
    ]
    return allergies, statements


def prescribe_page(client: Client, encounter: Encounter, medication: Medication) -> str:
    return f"/prescriptions/new/?encounter={encounter.pk}&medication={medication.pk}"


def form_body(medication: Medication, pharmacy: Pharmacy, **overrides: str) -> dict[str, str]:
    body = {
        "strength": medication.strengths[0],
        "dose_form": medication.dose_forms[0],
        "sig": medication.sig_templates[0],
        "quantity": "30",
        "days_supply": "30",
        "refills": "0",
        "pharmacy": str(pharmacy.pk),
    }
    body.update(overrides)
    return body


# --- 1. Unique ids on the health pages ----------------------------------------------------------


def test_each_row_form_has_its_own_ids_for_patient_and_clinician(
    alice: User, dr_tex: User, alice_care: Care, client_for: ClientFor
) -> None:
    allergies, statements = two_of_each(alice)
    own = client_for(alice).get(HEALTH).content.decode()
    assert_ids_unique_and_labels_resolve(own)
    for allergy in allergies:
        assert f'id="id_end-allergy-{allergy.pk}-reason"' in own
        assert f'id="id_end-allergy-{allergy.pk}-entered_in_error"' in own
    for statement in statements:
        assert f'id="id_stop-medication-{statement.pk}-reason"' in own
    clinician_page = client_for(dr_tex).get(f"/prescriptions/patients/{alice.pk}/health/")
    assert clinician_page.status_code == 200
    assert_ids_unique_and_labels_resolve(clinician_page.content.decode())


def test_a_row_form_error_shows_in_its_row_and_the_summary_links_to_it(
    alice: User, bob: User, client_for: ClientFor
) -> None:
    allergies, statements = two_of_each(alice)
    patient = client_for(alice)
    target = allergies[1]
    failed = patient.post(
        f"/prescriptions/allergies/{target.pk}/end/", {f"end-allergy-{target.pk}-reason": " "}
    )
    assert failed.status_code == 400
    html = failed.content.decode()
    assert_ids_unique_and_labels_resolve(html)
    assert (
        f'<a href="#id_end-allergy-{target.pk}-reason">Why remove it?: This field is required.</a>'
        in html
    )
    row = html[html.index(f'data-allergy-id="{target.pk}"') :]
    assert row.index("<details open>") < row.index("</li>")
    other = html[html.index(f'data-allergy-id="{allergies[0].pk}"') :]
    assert other.index("<details>") < other.index("</li>")

    ended = patient.post(
        f"/prescriptions/allergies/{target.pk}/end/",
        {f"end-allergy-{target.pk}-reason": "Tested negative", "reason": "ignored"},
    )
    assert ended.status_code == 302
    target.refresh_from_db()
    assert (target.status, target.end_reason) == ("resolved", "Tested negative")

    statement = statements[0]
    stopped = patient.post(
        f"/prescriptions/medications/{statement.pk}/stop/",
        {f"stop-medication-{statement.pk}-reason": "Finished the course"},
    )
    assert stopped.status_code == 302
    # The unprefixed field of another row's form is not this row's answer.
    other_row = statements[1]
    refused = patient.post(
        f"/prescriptions/medications/{other_row.pk}/stop/", {"reason": "Finished"}
    )
    assert refused.status_code == 400
    assert (
        client_for(bob)
        .post(
            f"/prescriptions/medications/{other_row.pk}/stop/",
            {f"stop-medication-{other_row.pk}-reason": "not mine"},
        )
        .status_code
        == 404
    )
    other_row.refresh_from_db()
    assert other_row.status == "active"


# --- 2. The draft message -------------------------------------------------------------------------


def test_draft_message_mentions_warnings_only_when_there_are_some(
    alice: User,
    dr_tex: User,
    meds: dict[str, Medication],
    alice_care: Care,
    cvs: Pharmacy,
    client_for: ClientFor,
) -> None:
    tex = client_for(dr_tex)
    encounter = alice_care.async_encounter
    cetirizine = meds["Cetirizine"]
    saved = tex.post(
        prescribe_page(tex, encounter, cetirizine), form_body(cetirizine, cvs), follow=True
    )
    assert b"Draft saved. Review and sign." in saved.content
    assert b"Check the warnings" not in saved.content

    AllergyIntolerance.objects.create(patient=alice, substance="Penicillin", recorded_by=alice)
    amoxicillin = meds["Amoxicillin"]
    warned = tex.post(
        prescribe_page(tex, encounter, amoxicillin), form_body(amoxicillin, cvs), follow=True
    )
    assert b"Draft saved. Check the warnings, then sign it." in warned.content


# --- 3. Quantities ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quantity", "dose_form", "expected"),
    [
        (30, "capsule", "30 capsules"),
        (1, "tablet", "1 tablet"),
        (20, "tablet", "20 tablets"),
        (15, "cream", "15 g"),
        (30, "gel", "30 g"),
        (120, "lotion", "120 mL"),
        (1, "metered-dose inhaler", "1 metered-dose inhaler"),
        (2, "metered-dose inhaler", "2 metered-dose inhalers"),
        (30, "orally disintegrating tablet", "30 orally disintegrating tablets"),
        (10, "patch", "10 patches"),
        (15, "g", "15 g"),
        (100, "mL", "100 mL"),
    ],
)
def test_quantity_reads_in_the_dispense_unit(quantity: int, dose_form: str, expected: str) -> None:
    assert quantity_text(quantity, dose_form) == expected


def pdf_text(document: bytes) -> str:
    streams = re.findall(rb"stream\r?\n(.*?)\r?\nendstream", document, re.DOTALL)
    text = []
    for stream in streams:
        try:
            text.append(zlib.decompress(stream).decode("latin-1"))
        except zlib.error:
            text.append(stream.decode("latin-1"))
    return "\n".join(text)


def test_patient_page_pdf_and_fhir_use_the_dispense_unit(
    alice: User,
    dr_tex: User,
    meds: dict[str, Medication],
    alice_care: Care,
    cvs: Pharmacy,
    client_for: ClientFor,
) -> None:
    encounter = alice_care.async_encounter
    doxy = signed_prescription(dr_tex, encounter, meds["Doxycycline"], cvs, quantity=30)
    page = client_for(alice).get(f"/prescriptions/{doxy.pk}/").content.decode()
    assert "30 capsules · 14 days" in page
    assert "30 capsule " not in page
    assert "Quantity: 30 capsules" in pdf_text(prescription_pdf_bytes(doxy))

    cream = meds["Triamcinolone cream"]
    draft = do_create_draft(dr_tex, encounter, order(cream, cvs, quantity=15, days_supply=1))
    clinician_page = client_for(dr_tex).get(f"/prescriptions/{draft.pk}/").content.decode()
    assert "15 g · 1 day<" in clinician_page
    quantity = medication_request_resource(draft)["dispenseRequest"]["quantity"]
    assert quantity == {
        "value": 15,
        "unit": "g",
        "system": "http://unitsofmeasure.org",
        "code": "g",
    }
    assert quantity_help(cream.dose_forms) == "Grams for cream or ointment."
    assert quantity_help(["capsule", "tablet"]) == "Number of capsules or tablets."


# --- 4. Back to the case or the visit -------------------------------------------------------------


def test_prescribe_and_prescription_pages_lead_back_to_the_online_visit(
    alice: User,
    dr_tex: User,
    meds: dict[str, Medication],
    alice_care: Care,
    cvs: Pharmacy,
    client_for: ClientFor,
) -> None:
    tex = client_for(dr_tex)
    encounter = alice_care.async_encounter
    back = f'href="/staff/cases/{alice_care.case.pk}/review/"'
    tramadol = tex.get(prescribe_page(tex, encounter, meds["Tramadol"])).content.decode()
    blocking = tramadol[tramadol.index('id="blocking"') :]
    blocking = blocking[: blocking.index("</div>")]
    assert "Escalate to a video visit first" in blocking
    assert back in blocking
    assert "Back to the online visit" in blocking
    assert back in tex.get(f"/prescriptions/new/?encounter={encounter.pk}").content.decode()

    rx = signed_prescription(dr_tex, encounter, meds["Doxycycline"], cvs)
    detail = tex.get(f"/prescriptions/{rx.pk}/").content.decode()
    assert back in detail
    assert "Back to the online visit" in detail
    patient_view = client_for(alice).get(f"/prescriptions/{rx.pk}/").content.decode()
    assert "/staff/cases/" not in patient_view


def test_prescribe_page_leads_back_to_the_video_visit(
    alice: User,
    dr_tex: User,
    meds: dict[str, Medication],
    alice_care: Care,
    cvs: Pharmacy,
    client_for: ClientFor,
) -> None:
    tex = client_for(dr_tex)
    video = add_video(alice_care, dr_tex)
    visit_id = video.visit.pk
    page = tex.get(prescribe_page(tex, video, meds["Tramadol"])).content.decode()
    assert f'href="/visits/{visit_id}/"' in page
    assert "Back to the video visit" in page
    assert 'id="blocking"' not in page
    rx = signed_prescription(dr_tex, video, meds["Doxycycline"], cvs)
    assert "Back to the video visit" in tex.get(f"/prescriptions/{rx.pk}/").content.decode()
    audio = open_video_visit(alice_care, dr_tex, mode="audio")
    assert audio.encounter is not None
    audio_page = tex.get(f"/prescriptions/new/?encounter={audio.encounter.pk}").content.decode()
    assert "Back to the audio visit" in audio_page


# --- 5. Error summaries name the problem ----------------------------------------------------------


def test_prescribe_error_summary_lists_each_message_linked_to_its_field(
    dr_tex: User,
    meds: dict[str, Medication],
    alice_care: Care,
    cvs: Pharmacy,
    client_for: ClientFor,
) -> None:
    tex = client_for(dr_tex)
    doxy = meds["Doxycycline"]
    bad = tex.post(
        prescribe_page(tex, alice_care.async_encounter, doxy),
        form_body(doxy, cvs, quantity="0", days_supply=""),
    )
    assert bad.status_code == 400
    html = bad.content.decode()
    summary = html[html.index('class="error-summary"') :]
    summary = summary[: summary.index("</div>")]
    assert (
        '<a href="#id_quantity">Quantity: Ensure this value is greater than or equal to 1.</a>'
        in summary
    )
    assert '<a href="#id_days_supply">Days supply: This field is required.</a>' in summary
    assert 'value="0"' in html  # what was typed is kept


# --- 6. My health: the preferred pharmacy and prescribed medications ---------------------------


def test_my_health_shows_the_preferred_pharmacy_and_who_prescribed(
    alice: User,
    bob: User,
    dr_tex: User,
    meds: dict[str, Medication],
    alice_care: Care,
    cvs: Pharmacy,
    client_for: ClientFor,
) -> None:
    rx = signed_prescription(dr_tex, alice_care.async_encounter, meds["Doxycycline"], cvs)
    html = client_for(alice).get(HEALTH).content.decode()
    card = html[html.index('id="preferred-pharmacy"') :]
    card = card[: card.index("</section>")]
    assert "CVS Pharmacy" in card
    assert "100 Main St, Austin, TX 78701" in card
    assert "512-555-0100" in card
    assert ">Change</a>" in card
    assert "Choose your preferred pharmacy" not in html
    assert rx.signed_at is not None
    # The date is shown in the patient's time zone: the day may differ from UTC's.
    signed_on = r"[A-Z][a-z]{2,4}\.? \d{1,2}, \d{4}"
    assert re.search(rf"Prescribed by {re.escape(dr_tex.display_name)} on {signed_on} ·", html)
    assert f'<a href="/prescriptions/{rx.pk}/">View prescription</a>' in html
    assert "Prescribed here" not in html

    without = client_for(bob).get(HEALTH).content.decode()
    assert "Choose your preferred pharmacy" in without
    assert "CVS Pharmacy" not in without
