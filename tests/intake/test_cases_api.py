"""Cases through /api/v1/intake: drafts, idempotent submission, bad input, and who must not."""

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from carepath.accounts.models import User
from carepath.audit.models import AuditEvent
from carepath.core import clock
from carepath.intake.models import Case, CaseStatus, ServiceLine
from carepath.workqueue.models import WorkItem
from tests.intake.conftest import derm_answers, upload_photo

pytestmark = pytest.mark.django_db

CASES = "/api/v1/intake/cases"


def post(client: Client, url: str, body: Any, key: str | None = None) -> Any:
    headers = {"Idempotency-Key": key} if key else {}
    return client.post(url, body, content_type="application/json", headers=headers)


def new_case(
    client: Client, patient: User, *, submit: bool = True, key: str | None = None, **answers: Any
) -> Any:
    body = {
        "service_line": "dermatology",
        "state": "TX",
        "answers": derm_answers([upload_photo(patient)], **answers),
        "submit": submit,
    }
    return post(client, CASES, body, key)


def test_submit_creates_episode_encounter_and_work_item(
    alice: User, dr_tex: User, lines: dict[str, ServiceLine], client_for: Callable[..., Client]
) -> None:
    clock.freeze(dt.datetime(2026, 11, 2, 15, 0, tzinfo=dt.UTC))
    response = new_case(client_for(alice), alice)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "submitted"
    assert body["episode_id"]
    assert body["encounter_id"]
    assert [a["link_id"] for a in body["attachments"]] == ["photos"]
    case = Case.objects.get(pk=body["id"])
    item = WorkItem.objects.get(subject_type="intake.case", subject_id=str(case.pk))
    assert item.kind == "async_case"
    assert item.required_state == "TX"
    assert item.required_specialty is not None
    assert item.required_specialty.code == "dermatology"
    assert item.required_language == ""
    assert item.due_at == clock.now() + dt.timedelta(minutes=1440)
    assert item.title == "Skin, hair and nails"
    assert case.encounter is not None
    assert case.encounter.mode == "async"


def test_same_key_twice_makes_one_case(
    alice: User, dr_tex: User, lines: dict[str, ServiceLine], client_for: Callable[..., Client]
) -> None:
    client = client_for(alice)
    photo = upload_photo(alice)
    body = {
        "service_line": "dermatology",
        "state": "TX",
        "answers": derm_answers([photo]),
        "submit": True,
    }
    first = post(client, CASES, body, "key-1")
    second = post(client, CASES, body, "key-1")
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert Case.objects.filter(patient=alice).count() == 1
    assert WorkItem.objects.filter(subject_type="intake.case").count() == 1

    changed = post(client, CASES, {**body, "state": "NY"}, "key-1")
    assert changed.status_code == 422
    assert changed.json()["error"]["code"] == "idempotency_key_reused"
    assert Case.objects.filter(patient=alice).count() == 1


def test_submit_endpoint_is_idempotent_and_safe_to_retry(
    alice: User, dr_tex: User, lines: dict[str, ServiceLine], client_for: Callable[..., Client]
) -> None:
    client = client_for(alice)
    draft = new_case(client, alice, submit=False).json()
    assert draft["status"] == "draft"
    url = f"{CASES}/{draft['id']}/submit"
    first = post(client, url, {}, "submit-1")
    again = post(client, url, {}, "submit-1")
    without_key = post(client, url, {})
    assert first.status_code == again.status_code == without_key.status_code == 200
    assert first.json()["status"] == "submitted"
    assert WorkItem.objects.filter(subject_type="intake.case").count() == 1


def test_a_refused_request_leaves_the_key_free(
    alice: User, dr_tex: User, lines: dict[str, ServiceLine], client_for: Callable[..., Client]
) -> None:
    client = client_for(alice)
    body = {"service_line": "dermatology", "state": "TX", "answers": {}, "submit": True}
    refused = post(client, CASES, body, "key-2")
    assert refused.status_code == 422
    assert Case.objects.count() == 0  # rolled back with the refusal
    body["answers"] = derm_answers([upload_photo(alice)])
    assert post(client, CASES, body, "key-2").status_code == 201


def test_wrong_types_and_missing_answers_get_field_errors(
    alice: User, dr_tex: User, lines: dict[str, ServiceLine], client_for: Callable[..., Client]
) -> None:
    client = client_for(alice)
    body = {
        "service_line": "dermatology",
        "state": "TX",
        "answers": {"fever": "very", "temperature": "hot", "location": ["arms", "tail"]},
        "submit": True,
    }
    response = post(client, CASES, body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_answers"
    found = {f["field"]: f["message"] for f in error["fields"]}
    assert found["fever"] == "Answer yes or no."
    assert found["location[1]"] == "Choose one of the options."
    assert found["concern"] == "This question is required."
    assert found["photos"] == "This question is required."
    # temperature only applies with a fever; "very" is no answer to fever, so it is ignored.
    assert "temperature" not in found


def test_draft_keeps_whatever_was_typed_and_submit_checks_it(
    alice: User, dr_tex: User, lines: dict[str, ServiceLine], client_for: Callable[..., Client]
) -> None:
    client = client_for(alice)
    draft = new_case(client, alice, submit=False).json()
    typed = {**draft["answers"], "fever": True, "temperature": "hot"}
    saved = client.put(
        f"{CASES}/{draft['id']}/draft", {"answers": typed}, content_type="application/json"
    )
    assert saved.status_code == 200
    assert saved.json()["answers"]["temperature"] == "hot"  # nothing lost
    submit = post(client, f"{CASES}/{draft['id']}/submit", {})
    assert submit.status_code == 422
    assert submit.json()["error"]["fields"] == [
        {"field": "temperature", "message": "Enter a number."}
    ]
    assert Case.objects.get(pk=draft["id"]).answers["temperature"] == "hot"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"service_line": "dermatology", "state": "XX"}, "state"),
        ({"service_line": "Derm!", "state": "TX"}, "service_line"),
        ({"service_line": "dermatology", "state": "TX", "answers": []}, "answers"),
    ],
)
def test_unknown_enum_values_are_422(
    body: dict[str, Any],
    field: str,
    alice: User,
    lines: dict[str, ServiceLine],
    client_for: Callable[..., Client],
) -> None:
    response = post(client_for(alice), CASES, body)
    assert response.status_code == 422
    assert field in [f["field"] for f in response.json()["error"]["fields"]]


def test_unknown_service_line_and_unlicensed_state(
    alice: User, dr_tex: User, lines: dict[str, ServiceLine], client_for: Callable[..., Client]
) -> None:
    client = client_for(alice)
    unknown = post(client, CASES, {"service_line": "astrology", "state": "TX"})
    assert unknown.status_code == 422
    assert unknown.json()["error"]["code"] == "unknown_service_line"
    # Nobody offers dermatology in Ohio today: said plainly, and nothing is created.
    ohio = post(client, CASES, {"service_line": "dermatology", "state": "OH"})
    assert ohio.status_code == 409
    assert "No clinician licensed in Ohio" in ohio.json()["error"]["message"]
    assert Case.objects.count() == 0
    availability = client.get("/api/v1/intake/service-lines/dermatology/availability?state=OH")
    assert availability.json()["available"] is False


def test_over_long_reply_is_422(
    alice: User, dr_tex: User, lines: dict[str, ServiceLine], client_for: Callable[..., Client]
) -> None:
    case_id = new_case(client_for(alice), alice).json()["id"]
    response = post(client_for(alice), f"{CASES}/{case_id}/reply", {"text": "x" * 5001})
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "text"


def test_bob_cannot_see_alices_case_and_it_is_audited(
    alice: User,
    bob: User,
    dr_tex: User,
    lines: dict[str, ServiceLine],
    client_for: Callable[..., Client],
) -> None:
    case_id = new_case(client_for(alice), alice).json()["id"]
    bob_client = client_for(bob)
    assert bob_client.get(f"{CASES}/{case_id}").status_code == 404
    assert (
        bob_client.put(
            f"{CASES}/{case_id}/draft", {"answers": {}}, content_type="application/json"
        ).status_code
        == 404
    )
    assert post(bob_client, f"{CASES}/{case_id}/reply", {"text": "hi"}).status_code == 404
    denied = AuditEvent.objects.filter(
        actor_id=bob.pk, object_type="case", object_id=str(case_id), outcome="denied"
    )
    assert denied.count() == 3
    assert [c["id"] for c in bob_client.get(CASES).json()] == []


def test_unclaimed_clinicians_and_patients_cannot_review(
    alice: User,
    dr_tex: User,
    dr_ny: User,
    lines: dict[str, ServiceLine],
    client_for: Callable[..., Client],
) -> None:
    case_id = new_case(client_for(alice), alice).json()["id"]
    answer = {"message": "Use the cream.", "assessment": "Eczema", "plan": "Emollients"}
    patient = post(client_for(alice), f"{CASES}/{case_id}/answer", answer)
    assert patient.status_code == 403
    assert AuditEvent.objects.filter(
        actor_id=alice.pk, action="api.call", outcome="denied"
    ).exists()
    # Without a claim there is no care relationship: the case does not exist for them.
    assert post(client_for(dr_ny), f"{CASES}/{case_id}/answer", answer).status_code == 404
    assert client_for(dr_ny).get(f"{CASES}/{case_id}").status_code == 404
    assert post(client_for(dr_tex), f"{CASES}/{case_id}/answer", answer).status_code == 404
    assert Case.objects.get(pk=case_id).status == CaseStatus.SUBMITTED


def test_consent_is_required_to_start(
    lines: dict[str, ServiceLine], dr_tex: User, client_for: Callable[..., Client]
) -> None:
    from tests.personas import make_patient

    carl = make_patient("carl@example.com", "TX", consented=False)
    response = post(client_for(carl), CASES, {"service_line": "dermatology", "state": "TX"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "consent_required"


def test_questionnaire_fhir_export_and_admin_import(
    ada: User, alice: User, lines: dict[str, ServiceLine], client_for: Callable[..., Client]
) -> None:
    questionnaire_id = lines["dermatology"].questionnaire_id
    fhir = client_for(alice).get(f"/api/v1/intake/questionnaires/{questionnaire_id}/fhir")
    assert fhir.status_code == 200
    resource = fhir.json()
    assert resource["resourceType"] == "Questionnaire"
    assert resource["item"][0]["linkId"] == "concern"

    cyclic: dict[str, Any] = {
        "code": "cyclic",
        "title": "Cyclic",
        "definition": {
            "item": [
                {
                    "linkId": "a",
                    "text": "A",
                    "type": "boolean",
                    "enableWhen": [{"question": "b", "operator": "=", "answerBoolean": True}],
                },
                {
                    "linkId": "b",
                    "text": "B",
                    "type": "boolean",
                    "enableWhen": [{"question": "a", "operator": "=", "answerBoolean": True}],
                },
            ]
        },
    }
    admin = client_for(ada)
    refused = post(admin, "/api/v1/intake/questionnaires", cyclic)
    assert refused.status_code == 422
    assert "cycle" in refused.json()["error"]["fields"][0]["message"]
    assert post(client_for(alice), "/api/v1/intake/questionnaires", cyclic).status_code == 403
    cyclic["definition"]["item"][0].pop("enableWhen")
    created = post(admin, "/api/v1/intake/questionnaires", cyclic)
    assert created.status_code == 201
    assert created.json()["version"] == 1
    assert post(admin, "/api/v1/intake/questionnaires", cyclic).json()["version"] == 2
