import datetime as dt
import json
import time
from typing import Any

import pytest
from django.test import Client

from carepath.access.actions import do_add_care_relationship
from carepath.accounts.models import User
from carepath.audit.models import AuditEvent
from carepath.rpm.actions import IssuedDevice, do_enroll, do_register_device, do_revoke_device
from carepath.rpm.models import Device, Program, Reading
from tests.rpm.conftest import NOW, device_client
from tests.rpm.helpers import (
    bp_panel,
    line,
    observation,
    post_bundle,
    post_ndjson,
    post_one,
)

pytestmark = pytest.mark.usefixtures("cuff")


def normal_lines(count: int, *, start: dt.datetime = NOW) -> list[str]:
    """Plausible, unremarkable readings, one a minute going back from `start`."""
    measures = [
        ("bp_systolic", 118, "mm[Hg]"),
        ("bp_diastolic", 76, "mm[Hg]"),
        ("heart_rate", 68, "/min"),
    ]
    lines = []
    for n in range(count):
        measure, base, unit = measures[n % 3]
        at = start - dt.timedelta(minutes=n // 3, seconds=n % 3)
        lines.append(line(measure, base + n % 7, unit, at))
    return lines


def ingest_events() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="rpm.readings.ingest", outcome="allowed"))


def test_a_ten_thousand_reading_batch_is_ingested_in_a_few_queries(
    cuff_client: Client, django_assert_max_num_queries: Any
) -> None:
    lines = normal_lines(10_000)
    started = time.perf_counter()
    with django_assert_max_num_queries(25):
        response = post_ndjson(cuff_client, lines)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.content[:500]
    body = response.json()
    assert (body["received"], body["accepted"], body["rejected"]) == (10_000, 10_000, 0)
    assert Reading.objects.count() == 10_000
    assert elapsed < 30, f"10,000 readings took {elapsed:.1f} s"
    # One audit event for the batch, with its counts (not one per reading).
    [event] = ingest_events()
    assert event.detail["accepted"] == 10_000
    assert event.patient_id is not None


def test_one_impossible_value_is_rejected_and_the_rest_kept(cuff_client: Client) -> None:
    lines = normal_lines(100)
    lines[37] = line("bp_systolic", 400, "mm[Hg]", NOW - dt.timedelta(hours=5))
    response = post_ndjson(cuff_client, lines)
    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] == 99
    assert body["rejected"] == 1
    [error] = body["errors"]
    assert error["index"] == 37
    assert error["field"] == "value"
    assert "not physiologically possible" in error["message"]
    assert "between 50 and 300" in error["message"]
    assert Reading.objects.count() == 99
    assert not Reading.objects.filter(value=400).exists()


def test_bad_lines_each_name_their_problem(cuff_client: Client) -> None:
    at = NOW - dt.timedelta(hours=1)
    lines = [
        "not json",
        json.dumps([1, 2]),
        json.dumps(
            {"measure": "cholesterol", "value": 1, "unit": "mg/dL", "effective_at": at.isoformat()}
        ),
        line("glucose", 110, "mg/dl", at),  # UCUM is case-sensitive
        json.dumps(
            {
                "measure": "glucose",
                "value": 110,
                "unit": "mg/dL",
                "effective_at": "2026-10-15T08:00:00",
            }
        ),
        line("glucose", 110, "mg/dL", NOW + dt.timedelta(days=1)),
        line("glucose", "110", "mg/dL", at),
        line("spo2", 101, "%", at),
        line("weight", 1.5, "kg", at),
        line("weight", 180, "[lb_av]", at),  # fine: converted to kg
    ]
    body = post_ndjson(cuff_client, lines).json()
    fields = {e["index"]: e["field"] for e in body["errors"]}
    assert fields == {
        0: "line",
        1: "item",
        2: "measure",
        3: "unit",
        4: "effective_at",
        5: "effective_at",
        6: "value",
        7: "value",
        8: "value",
    }
    messages = {e["index"]: e["message"] for e in body["errors"]}
    assert "UTC offset" in messages[4]
    assert "future" in messages[5]
    assert body["accepted"] == 1
    weight = Reading.objects.get(measure="weight")
    assert weight.unit == "kg"
    assert weight.value == pytest.approx(81.647, abs=0.001)
    assert (weight.original_value, weight.original_unit) == (180, "[lb_av]")


def test_duplicates_are_idempotent_and_reported_not_failed(cuff_client: Client) -> None:
    lines = normal_lines(100)
    first = post_ndjson(cuff_client, lines).json()
    assert (first["accepted"], first["duplicates"]) == (100, 0)
    again = post_ndjson(cuff_client, [*lines, lines[0]])
    assert again.status_code == 200
    body = again.json()
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (0, 101, 0)
    assert body["duplicate_indexes"][:3] == [0, 1, 2]
    assert Reading.objects.count() == 100
    # A single reading sent twice: created, then reported as a duplicate.
    at = NOW - dt.timedelta(days=3)
    assert post_one(cuff_client, "heart_rate", 70, "/min", at).status_code == 201
    repeat = post_one(cuff_client, "heart_rate", 70, "/min", at)
    assert repeat.status_code == 200
    assert repeat.json()["status"] == "duplicate"
    assert Reading.objects.count() == 101


def test_a_single_reading_with_an_impossible_value_is_a_422_naming_the_field(
    cuff_client: Client,
) -> None:
    response = post_one(cuff_client, "spo2", 20, "%", NOW)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["fields"][0]["field"] == "value"
    assert "not physiologically possible" in error["message"]
    assert Reading.objects.count() == 0


def test_a_batch_where_nothing_is_usable_is_a_422_with_the_report(cuff_client: Client) -> None:
    response = post_ndjson(cuff_client, [line("bp_systolic", 900, "mm[Hg]", NOW)])
    assert response.status_code == 422
    body = response.json()
    assert body["error"]["code"] == "no_valid_readings"
    assert body["error"]["fields"][0]["field"] == "0.value"
    assert body["errors"][0]["index"] == 0


def test_fhir_bundle_of_observations(cuff_client: Client, alice: User) -> None:
    at = NOW - dt.timedelta(hours=2)
    entries = [
        bp_panel(132, 84, at),
        observation("8867-4", 72, "/min", at, subject={"reference": f"Patient/{alice.pk}"}),
        observation("29463-7", 176.4, "[lb_av]", at),
        observation("8480-6", 125, "mm[Hg]", at - dt.timedelta(hours=1)),
        observation("59408-5", 150, "%", at),  # impossible
        {"resource": {"resourceType": "Patient"}},
        observation("8867-4", 72, "/min", at, valueQuantity={"value": "fast"}),
        observation("12345-6", 1, "1", at),
    ]
    response = post_bundle(cuff_client, entries)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["received"] == 8
    assert body["accepted"] == 5  # panel = 2 readings, + heart rate, weight, systolic
    errors = {e["index"]: e for e in body["errors"]}
    assert sorted(errors) == [4, 5, 6, 7]
    assert errors[4]["field"] == "resource.valueQuantity.value"
    assert "not physiologically possible" in errors[4]["message"]
    assert errors[5]["field"] == "resource.resourceType"
    assert errors[6]["field"] == "resource.valueQuantity.value"
    assert errors[7]["field"] == "resource.code"
    stored = dict(Reading.objects.filter(effective_at=at).values_list("measure", "value"))
    assert stored["bp_systolic"] == 132
    assert stored["bp_diastolic"] == 84
    assert stored["weight"] == pytest.approx(80.014, abs=0.001)
    assert Reading.objects.filter(source="fhir").count() == 5
    # Sending the same Bundle again stores nothing new.
    again = post_bundle(cuff_client, entries[:4]).json()
    assert (again["accepted"], again["duplicates"]) == (0, 5)


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{not json", 400, "invalid_json"),
        (json.dumps({"resourceType": "Patient"}).encode(), 422, "not_a_bundle"),
        (
            json.dumps({"resourceType": "Bundle", "type": "collection", "entry": {}}).encode(),
            422,
            "invalid_bundle",
        ),
        (
            json.dumps({"resourceType": "Bundle", "type": "searchset", "entry": []}).encode(),
            422,
            "invalid_bundle",
        ),
        (
            json.dumps(
                {
                    "resourceType": "Bundle",
                    "type": "collection",
                    "timestamp": "yesterday",
                    "entry": [],
                }
            ).encode(),
            422,
            "invalid_bundle",
        ),
        (
            json.dumps({"resourceType": "Bundle", "type": "collection", "entry": []}).encode(),
            400,
            "empty_batch",
        ),
    ],
)
def test_a_malformed_bundle_is_a_clear_4xx(
    cuff_client: Client, body: bytes, status: int, code: str
) -> None:
    response = cuff_client.post(
        "/api/v1/rpm/readings/fhir", body, content_type="application/fhir+json"
    )
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]
    assert Reading.objects.count() == 0


def test_wrong_content_type_and_oversized_batches(cuff_client: Client) -> None:
    wrong = cuff_client.post("/api/v1/rpm/readings/batch", "[]", content_type="application/json")
    assert wrong.status_code == 415
    too_many = post_ndjson(cuff_client, normal_lines(10_001))
    assert too_many.status_code == 413
    assert too_many.json()["error"]["code"] == "batch_too_large"
    assert Reading.objects.count() == 0


@pytest.fixture
def bob_scale(programs: list[Program], bob: User, dr_ny: User) -> IssuedDevice:
    do_add_care_relationship(dr_ny, bob.pk)
    do_enroll(dr_ny, bob.pk, "heart-failure", verbal_consent=True)
    return do_register_device(dr_ny, bob.pk, device_type="scale", serial="SCALE-BOB")


def test_a_device_token_cannot_write_for_another_patient(
    cuff_client: Client, bob: User, bob_scale: IssuedDevice
) -> None:
    at = NOW - dt.timedelta(hours=1)
    single = post_one(cuff_client, "bp_systolic", 120, "mm[Hg]", at, patient_id=bob.pk)
    assert single.status_code == 403
    assert single.json()["error"]["fields"][0]["field"] == "patient_id"
    body = post_ndjson(
        cuff_client,
        [
            line("weight", 80, "kg", at, device="SCALE-BOB"),
            line("weight", 81, "kg", at, patient_id=bob.pk),
            line("bp_systolic", 121, "mm[Hg]", at),
        ],
    ).json()
    assert body["accepted"] == 1
    assert {e["field"] for e in body["errors"]} == {"device", "patient_id"}
    fhir = post_bundle(
        cuff_client,
        [
            observation("29463-7", 80, "kg", at, subject={"reference": f"Patient/{bob.pk}"}),
            observation(
                "29463-7", 80, "kg", at, device={"reference": f"Device/{bob_scale.device.pk}"}
            ),
        ],
    )
    assert fhir.status_code == 422
    assert Reading.objects.filter(patient=bob).count() == 0
    denials = AuditEvent.objects.filter(action="rpm.readings.ingest", outcome="denied")
    assert denials.count() == 3
    # Bob's own scale still writes for Bob.
    assert post_one(device_client(bob_scale.token), "weight", 80, "kg", at).status_code == 201


def test_a_revoked_or_wrong_device_token_is_refused(
    cuff: IssuedDevice, cuff_client: Client, dr_tex: User, alice: User, client_for: Any
) -> None:
    at = NOW - dt.timedelta(hours=1)
    assert post_one(cuff_client, "bp_systolic", 120, "mm[Hg]", at).status_code == 201
    do_revoke_device(dr_tex, Device.objects.get(pk=cuff.device.pk))
    refused = post_one(cuff_client, "bp_systolic", 121, "mm[Hg]", at + dt.timedelta(minutes=1))
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_device_token"
    assert AuditEvent.objects.filter(action="rpm.device.auth", outcome="denied").exists()
    forged = cuff.token[:-4] + "AAAA"
    assert post_one(device_client(forged), "heart_rate", 60, "/min", at).status_code == 401
    assert post_one(Client(), "heart_rate", 60, "/min", at).status_code == 401
    # A signed-in patient is not a device.
    assert post_one(client_for(alice), "heart_rate", 60, "/min", at).status_code == 401
    assert Reading.objects.count() == 1


def test_no_monitoring_without_consent(programs: list[Program], bob: User, dr_ny: User) -> None:
    do_add_care_relationship(dr_ny, bob.pk)
    enrollment = do_enroll(dr_ny, bob.pk, "spo2")  # waiting for the patient's consent
    assert enrollment.started_at is None
    issued = do_register_device(dr_ny, bob.pk, device_type="pulse_oximeter", serial="OX-1")
    refused = post_one(device_client(issued.token), "spo2", 97, "%", NOW)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "not_enrolled"
    assert Reading.objects.count() == 0


def test_a_large_fhir_bundle_beyond_djangos_form_size_limit(cuff_client: Client) -> None:
    entries = [
        observation(
            "8867-4",
            60 + n % 30,
            "/min",
            NOW - dt.timedelta(minutes=n),
            id=f"obs-{n}",
            note=[{"text": "resting, seated, left wrist " * 4}],
        )
        for n in range(6000)
    ]
    body = json.dumps({"resourceType": "Bundle", "type": "batch", "entry": entries})
    assert len(body) > 2_621_440  # Django's DATA_UPLOAD_MAX_MEMORY_SIZE
    started = time.perf_counter()
    response = cuff_client.post(
        "/api/v1/rpm/readings/fhir", body, content_type="application/fhir+json"
    )
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.content[:300]
    assert response.json()["accepted"] == 6000
    assert elapsed < 30
