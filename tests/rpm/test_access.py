import datetime as dt
from typing import Any

from django.test import Client

from carepath.access.actions import do_add_care_relationship
from carepath.accounts.models import User
from carepath.audit.models import AuditEvent
from carepath.core import clock
from carepath.rpm.actions import IssuedDevice
from carepath.rpm.consent import RPM_CONSENT_VERSION
from carepath.rpm.models import Device, Enrollment, Program, Reading
from tests.rpm.conftest import NOW
from tests.rpm.helpers import line, post_ndjson


def test_bob_cannot_read_alices_readings(
    cuff_client: Client,
    alice: User,
    bob: User,
    dr_tex: User,
    dr_ny: User,
    ada: User,
    client_for: Any,
) -> None:
    post_ndjson(cuff_client, [line("bp_systolic", 130, "mm[Hg]", NOW - dt.timedelta(hours=1))])
    url = f"/api/v1/rpm/patients/{alice.pk}/readings"
    assert client_for(alice).get(url).json()[0]["value"] == 130
    assert client_for(dr_tex).get(url).status_code == 200
    for outsider in (bob, dr_ny, ada):
        response = client_for(outsider).get(url)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
        denied = AuditEvent.objects.filter(
            actor_id=outsider.pk, patient_id=alice.pk, outcome="denied"
        )
        assert denied.exists()
    # Every other view of Alice's monitoring answers Bob the same way.
    for path in ("enrollments", "devices", "alerts"):
        assert client_for(bob).get(f"/api/v1/rpm/patients/{alice.pk}/{path}").status_code == 404
    assert client_for(bob).get("/rpm/").status_code == 200
    assert b"130" not in client_for(bob).get("/rpm/").content
    assert client_for(bob).get(f"/rpm/staff/patients/{alice.pk}/").status_code == 403
    assert client_for(dr_ny).get(f"/rpm/staff/patients/{alice.pk}/").status_code == 404


def test_the_readings_read_is_audited(
    cuff_client: Client, alice: User, dr_tex: User, client_for: Any
) -> None:
    client_for(dr_tex).get(f"/api/v1/rpm/patients/{alice.pk}/readings")
    assert AuditEvent.objects.filter(
        action="rpm.readings.read", actor_id=dr_tex.pk, patient_id=alice.pk, outcome="allowed"
    ).exists()


def test_enrollment_and_the_patients_consent_through_the_api(
    programs: list[Program],
    alice: User,
    dr_tex: User,
    dr_ny: User,
    cody: User,
    tex_cares_for_alice: None,
    client_for: Any,
) -> None:
    url = f"/api/v1/rpm/patients/{alice.pk}/enrollments"
    assert (
        client_for(dr_ny)
        .post(url, {"program": "diabetes"}, content_type="application/json")
        .status_code
        == 404
    )
    assert (
        client_for(cody)
        .post(url, {"program": "diabetes"}, content_type="application/json")
        .status_code
        == 403
    )
    created = client_for(dr_tex).post(url, {"program": "diabetes"}, content_type="application/json")
    assert created.status_code == 201, created.content
    enrollment = created.json()
    assert enrollment["status"] == "pending_consent"
    again = client_for(dr_tex).post(url, {"program": "diabetes"}, content_type="application/json")
    assert again.status_code == 409
    consent = f"/api/v1/rpm/enrollments/{enrollment['id']}/consent"
    stale = client_for(alice).post(
        consent, {"version": "rpm-2020"}, content_type="application/json"
    )
    assert stale.status_code == 409
    accepted = client_for(alice).post(
        consent, {"version": RPM_CONSENT_VERSION}, content_type="application/json"
    )
    assert accepted.status_code == 200
    body = accepted.json()
    assert body["status"] == "active"
    assert body["consent_method"] == "portal"
    assert body["consent_version"] == RPM_CONSENT_VERSION
    assert body["started_at"] == body["consent_accepted_at"]
    stored = Enrollment.objects.get(pk=enrollment["id"])
    assert stored.encounter is not None
    assert stored.encounter.mode == "monitoring"
    assert stored.encounter.status == "in_progress"


def test_devices_show_their_token_once(
    enrolled_alice: Enrollment, alice: User, dr_tex: User, cody: User, client_for: Any
) -> None:
    url = f"/api/v1/rpm/patients/{alice.pk}/devices"
    # A coordinator on the care team may register devices too; the patient may not.
    do_add_care_relationship(cody, alice.pk)
    issued = client_for(cody).post(
        url, {"device_type": "glucometer", "serial": "GL-77"}, content_type="application/json"
    )
    assert issued.status_code == 201, issued.content
    token = issued.json()["token"]
    assert token.startswith("cpd_")
    device = Device.objects.get(serial="GL-77")
    assert token.split("_")[2] not in device.token_hash
    listed = client_for(alice).get(url).json()
    assert listed[0]["serial"] == "GL-77"
    assert "token" not in listed[0]
    assert (
        client_for(alice)
        .post(url, {"device_type": "scale", "serial": "S-1"}, content_type="application/json")
        .status_code
        == 403
    )
    taken = client_for(dr_tex).post(
        url, {"device_type": "glucometer", "serial": "GL-77"}, content_type="application/json"
    )
    assert taken.status_code == 409
    revoked = client_for(dr_tex).post(f"/api/v1/rpm/devices/{device.pk}/revoke")
    assert revoked.json()["revoked_at"] is not None


def test_a_reading_entered_in_error_leaves_charts_and_billing(
    cuff: IssuedDevice,
    cuff_client: Client,
    alice: User,
    dr_tex: User,
    bob: User,
    client_for: Any,
) -> None:
    post_ndjson(cuff_client, [line("bp_systolic", 131, "mm[Hg]", NOW - dt.timedelta(hours=2))])
    reading = Reading.objects.get()
    url = f"/api/v1/rpm/readings/{reading.pk}/entered-in-error"
    assert (
        client_for(bob).post(url, {"reason": "x"}, content_type="application/json").status_code
        == 403
    )
    marked = client_for(dr_tex).post(
        url, {"reason": "Cuff was on the wrong arm size."}, content_type="application/json"
    )
    assert marked.json()["status"] == "entered_in_error"
    assert Reading.objects.filter(pk=reading.pk).exists()  # never deleted
    from carepath.rpm.billing import billing_for_patient

    assert billing_for_patient(alice)[0].reading_days == 0


def test_time_entries_through_the_api(
    enrolled_alice: Enrollment, alice: User, dr_tex: User, dr_ny: User, client_for: Any
) -> None:
    url = f"/api/v1/rpm/patients/{alice.pk}/time-entries"
    entry = {
        "kind": "interactive",
        "minutes": 12,
        "occurred_at": clock.now().isoformat(),
        "note": "Phone call about home readings.",
    }
    created = client_for(dr_tex).post(url, entry, content_type="application/json")
    assert created.status_code == 201
    assert client_for(dr_ny).post(url, entry, content_type="application/json").status_code == 404
    bad = client_for(dr_tex).post(url, {**entry, "minutes": 0}, content_type="application/json")
    assert bad.status_code == 400
    assert bad.json()["error"]["fields"][0]["field"] == "minutes"
    assert [e["minutes"] for e in client_for(dr_tex).get(url).json()] == [12]
    assert client_for(alice).get(url).status_code == 403
