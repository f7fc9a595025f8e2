"""The patient's preferred pharmacy: chosen by the patient (page + API), read by the patient
and their care team, audited; nobody else sees or sets it."""

import json
from collections.abc import Callable
from typing import Any

from django.test import Client

from carepath.access.models import CareRelationship, RelationshipKind
from carepath.accounts.models import User
from carepath.audit.models import AuditEvent
from carepath.pharmacy.actions import do_choose_preferred_pharmacy, do_set_pharmacy_active
from carepath.pharmacy.models import Pharmacy, PreferredPharmacy
from carepath.pharmacy.selectors import preferred_pharmacy_of


def put(client: Client, patient_id: int, pharmacy_id: object) -> Any:
    return client.put(
        f"/api/v1/pharmacy/patients/{patient_id}/preferred",
        json.dumps({"pharmacy_id": pharmacy_id}),
        content_type="application/json",
    )


def test_patient_chooses_and_changes_on_the_page(
    pharmacies: dict[str, Pharmacy], alice: User, client_for: Callable[..., Client]
) -> None:
    client = client_for(alice)
    assert "You have not chosen a pharmacy yet" in client.get("/pharmacy/").content.decode()
    bluebonnet, live_oak = pharmacies["4400118"], pharmacies["4400126"]
    chosen = client.post(
        "/pharmacy/preferred/", {"pharmacy_id": bluebonnet.pk, "back": "?state=TX&city=Austin"}
    )
    assert chosen.status_code == 302
    assert chosen["Location"] == "/pharmacy/?state=TX&city=Austin"
    page = client.get(chosen["Location"]).content.decode()
    assert "Your preferred pharmacy is now Bluebonnet Pharmacy, Austin." in page
    assert "<strong>Your preferred pharmacy</strong>" in page

    client.post("/pharmacy/preferred/", {"pharmacy_id": live_oak.pk})
    assert preferred_pharmacy_of(alice) == live_oak
    assert PreferredPharmacy.objects.filter(patient=alice).count() == 1
    changes = AuditEvent.objects.filter(action="pharmacy.preferred.set", patient_id=alice.pk)
    assert [e.detail["pharmacy_id"] for e in changes] == [bluebonnet.pk, live_oak.pk]
    assert changes.last().detail["previous_pharmacy_id"] == bluebonnet.pk  # type: ignore[union-attr]

    bad = client.post("/pharmacy/preferred/", {"pharmacy_id": "987654"}, follow=True)
    assert "Choose a pharmacy from the directory." in bad.content.decode()
    assert preferred_pharmacy_of(alice) == live_oak
    # Only a query string can come back through "back" (no open redirect).
    evil = client.post(
        "/pharmacy/preferred/", {"pharmacy_id": live_oak.pk, "back": "//evil.example/"}
    )
    assert evil["Location"] == "/pharmacy/"
    assert client.get("/pharmacy/preferred/")["Location"] == "/pharmacy/"


def test_api_get_and_put_for_the_patient(
    pharmacies: dict[str, Pharmacy], alice: User, client_for: Callable[..., Client]
) -> None:
    client = client_for(alice)
    empty = client.get(f"/api/v1/pharmacy/patients/{alice.pk}/preferred").json()
    assert empty["pharmacy"] is None
    chosen = put(client, alice.pk, pharmacies["3600116"].pk)
    assert chosen.status_code == 200
    assert chosen.json()["pharmacy"]["name"] == "Northstar Mail Pharmacy"
    read = client.get(f"/api/v1/pharmacy/patients/{alice.pk}/preferred").json()
    assert read["pharmacy"]["ncpdp_id"] == "3600116"
    assert read["pharmacy_active"] is True
    assert put(client, alice.pk, 987654).status_code == 422
    assert put(client, alice.pk, "x").status_code == 422
    assert AuditEvent.objects.filter(
        action="pharmacy.preferred.read", patient_id=alice.pk, actor_id=alice.pk
    ).exists()


def test_other_patients_and_staff_without_relationship_cannot_see_or_set(
    pharmacies: dict[str, Pharmacy],
    alice: User,
    bob: User,
    dr_tex: User,
    dr_ny: User,
    cody: User,
    ada: User,
    client_for: Callable[..., Client],
) -> None:
    do_choose_preferred_pharmacy(alice, pharmacies["4400118"].pk)
    url = f"/api/v1/pharmacy/patients/{alice.pk}/preferred"
    for user in (bob, dr_tex, dr_ny, cody, ada):
        assert client_for(user).get(url).status_code == 404, user.email
    assert put(client_for(bob), alice.pk, pharmacies["3300115"].pk).status_code == 404
    for staff in (dr_tex, cody, ada):
        assert put(client_for(staff), alice.pk, pharmacies["4400126"].pk).status_code == 403
    assert preferred_pharmacy_of(alice) == pharmacies["4400118"]
    denied = AuditEvent.objects.filter(outcome="denied", patient_id=alice.pk)
    assert denied.filter(actor_id=bob.pk).exists()
    assert denied.filter(actor_id=dr_tex.pk).exists()


def test_care_team_clinician_reads_it(
    pharmacies: dict[str, Pharmacy], alice: User, dr_tex: User, client_for: Callable[..., Client]
) -> None:
    do_choose_preferred_pharmacy(alice, pharmacies["4400126"].pk)
    CareRelationship.objects.create(patient=alice, staff=dr_tex, kind=RelationshipKind.CARE_TEAM)
    response = client_for(dr_tex).get(f"/api/v1/pharmacy/patients/{alice.pk}/preferred")
    assert response.status_code == 200
    assert response.json()["pharmacy"]["name"] == "Live Oak Drug"
    assert AuditEvent.objects.filter(
        action="pharmacy.preferred.read", actor_id=dr_tex.pk, patient_id=alice.pk
    ).exists()
    # Staff MFA is required for patient data.
    assert (
        client_for(dr_tex, mfa=False)
        .get(f"/api/v1/pharmacy/patients/{alice.pk}/preferred")
        .status_code
        == 403
    )


def test_deactivated_preferred_pharmacy(
    pharmacies: dict[str, Pharmacy], alice: User, ada: User, client_for: Callable[..., Client]
) -> None:
    chosen = pharmacies["4400134"]
    do_choose_preferred_pharmacy(alice, chosen.pk)
    do_set_pharmacy_active(ada, chosen.pk, active=False)
    assert preferred_pharmacy_of(alice) is None  # prescribing must ask for another
    page = client_for(alice).get("/pharmacy/").content.decode()
    assert "is no longer in our directory" in page
    api = client_for(alice).get(f"/api/v1/pharmacy/patients/{alice.pk}/preferred").json()
    assert api["pharmacy_active"] is False
    assert put(client_for(alice), alice.pk, chosen.pk).status_code == 422
