import re
from collections.abc import Callable
from typing import Any

from django.core import mail
from django.test import Client

from carepath.accounts.models import License, Role, StaffInvitation, User
from carepath.audit.models import AuditEvent

ClientFor = Callable[..., Client]
JSON = "application/json"


def test_admin_invites_staff_who_joins_with_a_strong_password(
    client_for: ClientFor, ada: User, django_capture_on_commit_callbacks: Any
) -> None:
    admin = client_for(ada)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(
            "/api/v1/staff/invitations",
            {"email": "Nurse.Joy@Example.com", "role": "telefacilitator"},
            content_type=JSON,
        )
    assert response.status_code == 201
    assert response.json()["email"] == "nurse.joy@example.com"
    link = re.search(r"/accounts/invitation/([\w-]+)/", str(mail.outbox[-1].body))
    assert link is not None
    url = link.group(0)

    page = Client()
    weak = page.post(
        url,
        {
            "first_name": "Joy",
            "last_name": "Nurse",
            "password": "password123",
            "password_again": "password123",
        },
    )
    assert weak.status_code == 400
    assert b"too common" in weak.content or b"too short" in weak.content

    ok = page.post(
        url,
        {
            "first_name": "Joy",
            "last_name": "Nurse",
            "password": "violet-harbor-71",
            "password_again": "violet-harbor-71",
        },
    )
    assert ok.status_code == 302
    joined = User.objects.get(email="nurse.joy@example.com")
    assert joined.role == Role.TELEFACILITATOR
    assert page.get(url).status_code == 404  # single use
    assert StaffInvitation.objects.get().accepted_at is not None


def test_only_admins_manage_staff(client_for: ClientFor, cody: User, alice: User) -> None:
    for user in (cody, alice):
        client = client_for(user)
        assert client.get("/api/v1/staff").status_code == 403
        invite = {"email": "x@example.com", "role": "admin"}
        assert (
            client.post("/api/v1/staff/invitations", invite, content_type=JSON).status_code == 403
        )
        assert client.get("/staff/admin/staff/").status_code == 403
    denied = AuditEvent.objects.filter(outcome="denied", actor_id=cody.pk)
    assert denied.filter(action="api.call", detail__path="/api/v1/staff").exists()


def test_role_and_privilege_changes_are_audited(
    client_for: ClientFor, ada: User, cody: User
) -> None:
    admin = client_for(ada)
    response = admin.patch(
        f"/api/v1/staff/{cody.pk}",
        {"role": "clinician", "can_break_glass": True},
        content_type=JSON,
    )
    assert response.status_code == 200
    assert response.json()["role"] == "clinician"
    role_change = AuditEvent.objects.get(action="role.change")
    assert role_change.detail == {"from": "coordinator", "to": "clinician"}
    assert AuditEvent.objects.get(action="privilege.change").detail == {"can_break_glass": True}


def test_staff_cannot_become_patient_and_admin_cannot_demote_self(
    client_for: ClientFor, ada: User, cody: User
) -> None:
    admin = client_for(ada)
    to_patient = admin.patch(f"/api/v1/staff/{cody.pk}", {"role": "patient"}, content_type=JSON)
    assert to_patient.status_code == 400
    demote = admin.patch(f"/api/v1/staff/{ada.pk}", {"role": "coordinator"}, content_type=JSON)
    assert demote.json()["error"]["code"] == "self_demotion"


def test_licensure_management(client_for: ClientFor, ada: User, dr_ny: User) -> None:
    admin = client_for(ada)
    url = f"/api/v1/staff/{dr_ny.pk}/licenses/CA"
    added = admin.put(url, {"expires_on": "2030-01-31", "number": "A123"}, content_type=JSON)
    assert added.status_code == 200
    assert License.objects.filter(clinician__user=dr_ny, state="CA").exists()
    bad_state = admin.put(
        f"/api/v1/staff/{dr_ny.pk}/licenses/ZZ", {"expires_on": "2030-01-31"}, content_type=JSON
    )
    assert bad_state.status_code == 422
    assert admin.delete(url).status_code == 204
    assert not License.objects.filter(clinician__user=dr_ny, state="CA").exists()
    assert AuditEvent.objects.filter(action="license.remove").exists()


def test_clinician_profile_validates_npi(client_for: ClientFor, ada: User, dr_ny: User) -> None:
    admin = client_for(ada)
    url = f"/api/v1/staff/{dr_ny.pk}/clinician-profile"
    body = {"npi": "1245319598", "specialties": ["primary-care"], "languages": ["en", "es"]}
    bad = admin.put(url, body, content_type=JSON)
    assert bad.status_code == 400 or bad.status_code == 422
    body["npi"] = "1245319599"
    body["specialties"] = ["astrology"]
    unknown = admin.put(url, body, content_type=JSON)
    assert unknown.json()["error"]["code"] == "unknown_specialty"
    body["specialties"] = ["primary-care", "dermatology"]
    ok = admin.put(url, body, content_type=JSON)
    assert ok.status_code == 200
    assert sorted(ok.json()["specialties"]) == ["dermatology", "primary-care"]


def test_staff_admin_pages(client_for: ClientFor, ada: User, dr_ny: User) -> None:
    admin = client_for(ada)
    assert admin.get("/staff/admin/").status_code == 200
    assert admin.get("/staff/admin/staff/").status_code == 200
    page = admin.get(f"/staff/admin/staff/{dr_ny.pk}/")
    assert page.status_code == 200
    assert b"State licenses" in page.content
    saved = admin.post(
        f"/staff/admin/staff/{dr_ny.pk}/",
        {"form": "license", "state": "NJ", "number": "", "expires_on": "2031-05-01"},
    )
    assert saved.status_code == 302
    invalid = admin.post(
        f"/staff/admin/staff/{dr_ny.pk}/", {"form": "license", "state": "NJ", "expires_on": "soon"}
    )
    assert invalid.status_code == 400
    assert b"Enter a valid date" in invalid.content


def test_patient_updates_own_contact_details(client_for: ClientFor, alice: User, bob: User) -> None:
    client = client_for(alice)
    assert client.get("/patient/profile/").status_code == 200
    bad = client.post(
        "/patient/profile/",
        {"state": "ZZ", "preferred_language": "en", "time_zone": "America/Chicago"},
    )
    assert bad.status_code == 400
    ok = client.post(
        "/patient/profile/",
        {
            "phone": "+1 512 555 0101",
            "state": "NM",
            "preferred_language": "es",
            "time_zone": "America/Denver",
        },
    )
    assert ok.status_code == 302
    alice.refresh_from_db()
    assert alice.time_zone == "America/Denver"
    assert alice.patient_profile.state == "NM"
    assert AuditEvent.objects.filter(action="patient.update", patient_id=alice.pk).exists()
    assert client_for(bob).get("/patient/profile/").context["profile"].user_id == bob.pk
