"""The patient's allergies and medication list, and the formulary as admin data."""

from typing import Any

import pytest
from django.db import IntegrityError, transaction

from carepath.access.actions import do_add_care_relationship
from carepath.accounts.models import User
from carepath.audit.models import AuditEvent
from carepath.prescribing.models import (
    AllergyIntolerance,
    Medication,
    MedicationStatement,
)
from carepath.prescribing.seed import STARTER_FORMULARY, seed_demo_allergies, seed_formulary
from tests.prescribing.conftest import ClientFor, api_post

pytestmark = pytest.mark.django_db

API = "/api/v1/prescribing"


def test_patient_keeps_their_own_allergies_and_medications(
    alice: User, bob: User, dr_tex: User, cody: User, client_for: ClientFor, meds: Any
) -> None:
    patient = client_for(alice)
    added = api_post(
        patient,
        f"{API}/patients/{alice.pk}/allergies",
        {"substance": "Penicillin", "reaction": "Hives", "severity": "moderate"},
        **{"Idempotency-Key": "allergy-1"},
    )
    assert added.status_code == 201, added.json()
    replay = api_post(
        patient,
        f"{API}/patients/{alice.pk}/allergies",
        {"substance": "Penicillin", "reaction": "Hives", "severity": "moderate"},
        **{"Idempotency-Key": "allergy-1"},
    )
    assert replay.json()["id"] == added.json()["id"]
    assert AllergyIntolerance.objects.count() == 1
    bad = api_post(patient, f"{API}/patients/{alice.pk}/allergies", {"substance": "  "})
    assert bad.status_code == 422
    assert bad.json()["error"]["fields"][0]["field"] == "substance"

    med = api_post(
        patient,
        f"{API}/patients/{alice.pk}/medications",
        {"medication_id": meds["Lisinopril"].pk, "dosage": "10 mg daily"},
    )
    assert med.status_code == 201
    assert med.json()["name"] == "Lisinopril"
    listed = patient.get(f"{API}/patients/{alice.pk}/medications").json()
    assert [m["name"] for m in listed] == ["Lisinopril"]
    stop = api_post(patient, f"{API}/medication-statements/{med.json()['id']}/stop", {"reason": ""})
    assert stop.status_code == 422
    stop = api_post(
        patient, f"{API}/medication-statements/{med.json()['id']}/stop", {"reason": "Dizzy"}
    )
    assert stop.json()["status"] == "stopped"

    # Bob, and a clinician with no care relationship, get 404 (audited); a coordinator
    # with one sees but may not edit.
    for outsider in (bob, dr_tex):
        assert client_for(outsider).get(f"{API}/patients/{alice.pk}/allergies").status_code == 404
    assert (
        api_post(
            client_for(bob), f"{API}/patients/{alice.pk}/allergies", {"substance": "x"}
        ).status_code
        == 404
    )
    assert AuditEvent.objects.filter(
        action="patient.read", actor_id=bob.pk, outcome="denied"
    ).exists()
    do_add_care_relationship(cody, alice.pk)
    assert client_for(cody).get(f"{API}/patients/{alice.pk}/allergies").status_code == 200
    assert (
        api_post(
            client_for(cody), f"{API}/patients/{alice.pk}/allergies", {"substance": "x"}
        ).status_code
        == 403
    )

    # The "My health" page shows both lists and takes additions.
    page = patient.get("/prescriptions/health/")
    assert page.status_code == 200
    assert b"Penicillin" in page.content
    posted = patient.post(
        f"/prescriptions/patients/{alice.pk}/allergies/add/",
        {"substance": "Latex", "reaction": "Itching", "severity": "mild"},
    )
    assert posted.status_code == 302
    assert posted["Location"] == "/prescriptions/health/"
    assert (
        patient.post(
            f"/prescriptions/patients/{bob.pk}/allergies/add/", {"substance": "x"}
        ).status_code
        == 404
    )
    assert client_for(bob).get("/prescriptions/health/").content.count(b"Penicillin") == 0


def test_clinician_with_care_relationship_sees_and_adds(
    alice: User, dr_tex: User, client_for: ClientFor
) -> None:
    do_add_care_relationship(dr_tex, alice.pk)
    tex = client_for(dr_tex)
    response = api_post(
        tex,
        f"{API}/patients/{alice.pk}/allergies",
        {"substance": "Sulfa drugs", "severity": "mild"},
    )
    assert response.status_code == 201
    allergy = AllergyIntolerance.objects.get()
    assert allergy.recorded_by == dr_tex
    page = tex.get(f"/prescriptions/patients/{alice.pk}/health/")
    assert page.status_code == 200
    assert b"Sulfa drugs" in page.content
    ended = api_post(
        tex,
        f"{API}/allergies/{allergy.pk}/end",
        {"reason": "Entered on the wrong chart", "entered_in_error": True},
    )
    assert ended.json()["status"] == "entered_in_error"
    assert (
        api_post(tex, f"{API}/allergies/{allergy.pk}/end", {"reason": "again"}).status_code == 409
    )
    statement = MedicationStatement.objects.create(
        patient=alice, name="Vitamin D", source="patient", recorded_by=alice
    )
    stopped = tex.post(
        f"/prescriptions/medications/{statement.pk}/stop/",
        {f"stop-medication-{statement.pk}-reason": "Not needed"},
    )
    assert stopped.status_code == 302
    assert stopped["Location"] == f"/prescriptions/patients/{alice.pk}/health/"


def test_starter_formulary_is_idempotent_with_digit_rxnorm_codes(clinic: None) -> None:
    first = seed_formulary()
    assert len(first) == len(STARTER_FORMULARY) >= 25
    assert seed_formulary() == first
    assert Medication.objects.count() == len(first)
    by_name = {m.name: m for m in first}
    assert {by_name[n].schedule for n in ("Tramadol", "Alprazolam", "Zolpidem")} == {"IV"}
    assert by_name["Pregabalin"].schedule == "V"
    assert by_name["Methylphenidate"].schedule == "II"
    assert all(m.rxcui.isdigit() for m in first)
    for name in ("Doxycycline", "Tretinoin (topical)", "Clindamycin (topical)", "Valacyclovir"):
        assert name in by_name
    with pytest.raises(IntegrityError), transaction.atomic():
        Medication.objects.create(
            name="Bad", generic_name="bad", rxcui="RX12", strengths=["1 mg"], dose_forms=["tab"]
        )


def test_admin_edits_the_formulary_others_may_not(
    alice: User, dr_tex: User, ada: User, client_for: ClientFor, meds: Any
) -> None:
    admin = client_for(ada)
    body = {
        "name": "Famotidine",
        "generic_name": "famotidine",
        "rxcui": "4278",
        "strengths": ["20 mg", "40 mg"],
        "dose_forms": ["tablet"],
        "route": "oral",
        "sig_templates": ["Take 1 tablet by mouth twice a day."],
        "drug_classes": ["H2 blockers"],
    }
    created = api_post(admin, f"{API}/medications", body, **{"Idempotency-Key": "famo"})
    assert created.status_code == 201, created.json()
    assert created.json()["ingredients"] == ["famotidine"]
    assert api_post(admin, f"{API}/medications", {**body, "rxcui": "RX-1"}).status_code == 422
    dup = api_post(admin, f"{API}/medications", {**body, "rxcui": "4278"})
    assert dup.status_code == 409
    assert api_post(client_for(dr_tex), f"{API}/medications", body).status_code == 403
    medication_id = created.json()["id"]
    off = api_post(admin, f"{API}/medications/{medication_id}/active", {"active": False})
    assert off.json()["active"] is False
    names = [m["name"] for m in client_for(dr_tex).get(f"{API}/medications").json()]
    assert "Famotidine" not in names
    assert "Doxycycline" in names
    assert client_for(dr_tex).get(f"{API}/medications/{medication_id}").status_code == 404

    page = admin.get("/prescriptions/formulary/")
    assert page.status_code == 200
    assert b"Famotidine" in page.content
    bad = admin.post("/prescriptions/formulary/", {"name": "X", "rxcui": "abc"})
    assert bad.status_code == 400
    assert b"1 to 10 digits" in bad.content
    added = admin.post(
        "/prescriptions/formulary/",
        {
            "name": "Loratadine",
            "generic_name": "loratadine",
            "rxcui": "28889",
            "strengths": "10 mg",
            "dose_forms": "tablet",
            "route": "oral",
            "schedule": "",
        },
    )
    assert added.status_code == 302
    assert Medication.objects.filter(name="Loratadine", strengths=["10 mg"]).exists()
    for other in (alice, dr_tex):
        assert client_for(other).get("/prescriptions/formulary/").status_code == 403


def test_demo_allergies_seed_once(alice: User) -> None:
    seed_demo_allergies(alice)
    seed_demo_allergies(alice)
    assert sorted(AllergyIntolerance.objects.values_list("substance", flat=True)) == [
        "Penicillin",
        "Sulfa drugs",
    ]
