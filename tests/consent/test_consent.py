from collections.abc import Callable

import pytest
from django.test import Client

from carepath.accounts.models import User
from carepath.audit.models import AuditEvent
from carepath.consent.actions import do_publish_consent_document
from carepath.consent.models import ConsentAcceptance, ConsentKind
from carepath.consent.selectors import check_care_consent, has_current_consent
from carepath.core.errors import ActionRefused
from tests.personas import make_patient

ClientFor = Callable[..., Client]
JSON = "application/json"


@pytest.fixture
def carol(clinic: None) -> User:
    """A Texas patient who has not consented yet."""
    return make_patient("carol@example.com", "TX", consented=False)


def test_patient_home_is_gated_until_consent(client_for: ClientFor, carol: User) -> None:
    client = client_for(carol)
    response = client.get("/patient/")
    assert response.status_code == 302
    assert response["Location"] == "/patient/consent/?next=%2Fpatient%2F"
    with pytest.raises(ActionRefused, match="accept the current telehealth consent"):
        check_care_consent(carol)


def test_accepting_records_version_time_ip_and_user_agent(
    client_for: ClientFor, carol: User
) -> None:
    client = client_for(carol)
    status = client.get("/api/v1/consent").json()
    assert status["has_current_consent"] is False
    ids = [document["id"] for document in status["pending"]]
    assert len(ids) == 2
    partial = client.post("/api/v1/consent/accept", {"document_ids": ids[:1]}, content_type=JSON)
    assert partial.status_code == 400
    accepted = client.post(
        "/api/v1/consent/accept",
        {"document_ids": ids},
        content_type=JSON,
        HTTP_USER_AGENT="TestPhone/1.0",
    )
    assert accepted.json()["has_current_consent"] is True
    row = ConsentAcceptance.objects.filter(patient=carol).first()
    assert row is not None
    assert (row.ip_address, row.user_agent) == ("127.0.0.1", "TestPhone/1.0")
    assert AuditEvent.objects.filter(action="consent.accept", patient_id=carol.pk).count() == 2
    assert client.get("/patient/").status_code == 200


def test_consent_page_form_flow(client_for: ClientFor, carol: User) -> None:
    client = client_for(carol)
    page = client.get("/patient/consent/?next=/patient/")
    assert page.status_code == 200
    ids = [str(d.pk) for d in page.context["pending"]]
    missing = client.post("/patient/consent/", {"documents": ids[:1], "next": "/patient/"})
    assert missing.status_code == 400
    done = client.post("/patient/consent/", {"documents": ids, "next": "https://evil.example/"})
    assert done.status_code == 302
    assert done["Location"] == "/patient/"


def test_a_new_version_asks_again(alice: User, ada: User) -> None:
    assert has_current_consent(alice)
    do_publish_consent_document(
        ada, kind=ConsentKind.TELEHEALTH, state="", title="Consent v2", body="New terms."
    )
    assert not has_current_consent(alice)


def test_state_specific_text_overrides_the_national_one(alice: User, bob: User, ada: User) -> None:
    do_publish_consent_document(
        ada, kind=ConsentKind.TELEHEALTH, state="TX", title="Texas consent", body="Texas terms."
    )
    assert not has_current_consent(alice)  # Texas
    assert has_current_consent(bob)  # New York keeps the national text


def test_revocation_stops_new_care_and_is_recorded(client_for: ClientFor, alice: User) -> None:
    client = client_for(alice)
    revoked = client.post("/api/v1/consent/revoke", {"reason": "moving"}, content_type=JSON)
    assert revoked.status_code == 200
    assert revoked.json()["has_current_consent"] is False
    with pytest.raises(ActionRefused):
        check_care_consent(alice)
    assert AuditEvent.objects.filter(action="consent.revoke", patient_id=alice.pk).exists()
    again = client.post("/api/v1/consent/revoke", {}, content_type=JSON)
    assert again.json()["error"]["code"] == "nothing_to_revoke"
    assert ConsentAcceptance.objects.filter(patient=alice, revoked_at__isnull=False).count() == 1


def test_staff_cannot_accept_consent_or_publish_without_admin(
    client_for: ClientFor, dr_tex: User
) -> None:
    client = client_for(dr_tex)
    assert client.get("/api/v1/consent").status_code == 403
    body = {"kind": "telehealth", "title": "x", "body": "y"}
    assert client.post("/api/v1/consent/documents", body, content_type=JSON).status_code == 403


def test_admin_publishes_versions(client_for: ClientFor, ada: User) -> None:
    client = client_for(ada)
    body = {"kind": "privacy", "state": "CA", "title": "CA privacy", "body": "California text"}
    first = client.post("/api/v1/consent/documents", body, content_type=JSON)
    second = client.post("/api/v1/consent/documents", body, content_type=JSON)
    assert (first.json()["version"], second.json()["version"]) == (1, 2)
    unknown = client.post(
        "/api/v1/consent/documents", {**body, "kind": "marketing"}, content_type=JSON
    )
    assert unknown.status_code == 422
