"""The patient's pages end to end (without JavaScript), and the admin pages."""

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from carepath.accounts.models import User
from carepath.consent.models import ConsentAcceptance
from carepath.intake.actions import do_request_info
from carepath.intake.models import Case, CaseStatus, Questionnaire, ServiceLine
from carepath.workqueue.actions import do_claim
from carepath.workqueue.models import WorkItem
from tests.intake.conftest import jpeg_upload
from tests.personas import make_patient

pytestmark = pytest.mark.django_db

QUESTIONS = {
    "concern": "Red itchy patches",
    "location": ["arms", "legs"],
    "duration": "weeks",
    "spreading": "no",
    "fever": "yes",
    "temperature": "100.4",
    "breathing": "no",
    "treatments.__count": "1",
    "treatments[0].treatment-name": "Hydrocortisone",
    "treatments[0].treatment-helped": "no",
}


def start(client: Client, state: str = "TX") -> Any:
    assert client.get("/patient/visits/new/").status_code == 200
    chosen = client.post("/patient/visits/new/", {"service_line": "dermatology"})
    assert chosen["Location"] == "/patient/visits/new/dermatology/"
    return client.post("/patient/visits/new/dermatology/", {"state": state})


def test_whole_flow_without_javascript(
    alice: User, dr_tex: User, lines: dict[str, ServiceLine], client_for: Callable[..., Client]
) -> None:
    client = client_for(alice)
    started = start(client)
    case = Case.objects.get(patient=alice)
    assert started["Location"] == f"/patient/visits/{case.pk}/questions/"
    page = client.get(started["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-enable-when="' in html  # temperature is conditional
    assert "Answer only if “Do you have a fever?” is Yes." in html

    # A wrong number keeps what was typed and says what is wrong.
    bad = client.post(started["Location"], {**QUESTIONS, "temperature": "hot"})
    assert bad.status_code == 400
    assert "Enter a number." in bad.content.decode()
    assert 'value="hot"' in bad.content.decode()
    case.refresh_from_db()
    assert case.answers["temperature"] == "hot"

    done = client.post(started["Location"], QUESTIONS)
    assert done["Location"] == f"/patient/visits/{case.pk}/photos/"
    case.refresh_from_db()
    assert case.answers["temperature"] == 100.4
    assert case.answers["treatments"] == [
        {"treatment-name": "Hydrocortisone", "treatment-helped": False}
    ]

    photos = client.get(done["Location"]).content.decode()
    assert 'accept="image/*,application/pdf" capture="environment"' in photos
    review_url = f"/patient/visits/{case.pk}/review/"
    missing = client.get(review_url).content.decode()
    assert "This question is required." in missing  # no photo yet

    uploaded = client.post(done["Location"], {"link_id": "photos", "file": jpeg_upload()})
    assert uploaded.status_code == 302
    bad_file = client.post(
        done["Location"],
        {"link_id": "photos", "file": jpeg_upload_named("../../etc/passwd", b"not an image")},
    )
    assert bad_file.status_code == 400
    assert "not accepted" in bad_file.content.decode()

    review = client.get(review_url).content.decode()
    assert "Red itchy patches" in review
    assert "Hydrocortisone" in review
    key = re.search(r'name="idempotency_key" value="([^"]+)"', review)
    assert key is not None
    first = client.post(review_url, {"idempotency_key": key.group(1)})
    again = client.post(review_url, {"idempotency_key": key.group(1)})
    assert first["Location"] == again["Location"] == f"/patient/visits/{case.pk}/"
    assert WorkItem.objects.filter(subject_id=str(case.pk)).count() == 1
    status = client.get(first["Location"]).content.decode()
    assert 'id="case-status">Submitted<' in status
    # The submitted case can no longer be edited through the questions page.
    assert client.get(started["Location"])["Location"] == f"/patient/visits/{case.pk}/"


def jpeg_upload_named(name: str, data: bytes) -> Any:
    return SimpleUploadedFile(name, data, content_type="image/jpeg")


def test_autosave_keeps_the_draft(
    alice: User, dr_tex: User, lines: dict[str, ServiceLine], client_for: Callable[..., Client]
) -> None:
    client = client_for(alice)
    start(client)
    case = Case.objects.get(patient=alice)
    saved = client.post(f"/patient/visits/{case.pk}/draft/", {"concern": "Half-typed"})
    assert saved.status_code == 200
    assert "saved_at" in saved.json()
    case.refresh_from_db()
    assert case.answers == {"concern": "Half-typed"}
    # Coming back to the service resumes the same draft.
    start(client)
    assert Case.objects.filter(patient=alice).count() == 1
    assert b"Half-typed" in client.get(f"/patient/visits/{case.pk}/questions/").content


def test_repeating_group_add_and_remove(
    alice: User, dr_tex: User, lines: dict[str, ServiceLine], client_for: Callable[..., Client]
) -> None:
    client = client_for(alice)
    start(client)
    case = Case.objects.get(patient=alice)
    url = f"/patient/visits/{case.pk}/questions/"
    client.post(url, {**QUESTIONS, "add_instance": "treatments"})
    page = client.get(url).content.decode()
    assert 'name="treatments[1].treatment-name"' in page
    assert "Remove Treatments you have tried 2" in page
    client.post(
        url,
        {
            **QUESTIONS,
            "treatments.__count": "2",
            "treatments[1].treatment-name": "Ice",
            "remove_instance": "treatments[0]",
        },
    )
    case.refresh_from_db()
    assert case.answers["treatments"] == [{"treatment-name": "Ice"}]


def test_no_clinician_in_the_state_is_said_plainly(
    alice: User, dr_ny: User, lines: dict[str, ServiceLine], client_for: Callable[..., Client]
) -> None:
    # Nobody offers dermatology anywhere; dr_ny is primary care in New York only.
    page = start(client_for(alice))
    assert page.status_code == 200
    assert "We cannot start this visit" in page.content.decode()
    assert "No clinician licensed in Texas offers Skin, hair and nails" in page.content.decode()
    assert Case.objects.count() == 0


def test_consent_gate_comes_before_the_questions(
    dr_tex: User, lines: dict[str, ServiceLine], client_for: Callable[..., Client]
) -> None:
    carl = make_patient("carl@example.com", "TX", consented=False)
    client = client_for(carl)
    started = start(client)
    gate = client.get(started["Location"])
    assert gate.status_code == 302
    assert gate["Location"].startswith("/patient/consent/?next=")
    assert not ConsentAcceptance.objects.filter(patient=carl).exists()


def test_reply_page_keeps_the_text_on_error(
    alice: User, dr_tex: User, lines: dict[str, ServiceLine], client_for: Callable[..., Client]
) -> None:
    from tests.intake.test_review import derm_case

    case = derm_case(alice, lines)
    url = f"/patient/visits/{case.pk}/reply/"
    response = client_for(alice).post(url, {"text": "My long story"})
    assert response.status_code == 400  # not waiting for information
    assert b"My long story" in response.content
    assert b"not waiting for information" in response.content
    assert Case.objects.get(pk=case.pk).status == CaseStatus.SUBMITTED

    do_claim(dr_tex, case.work_item_id or 0)
    do_request_info(dr_tex, case, "Is it worse at night?")
    page = client_for(alice).get(f"/patient/visits/{case.pk}/").content.decode()
    assert "Is it worse at night?" in page
    assert "Send reply" in page
    empty = SimpleUploadedFile("night.jpg", b"", content_type="image/jpeg")
    refused = client_for(alice).post(url, {"text": "Yes, at night", "files": [empty]})
    assert refused.status_code == 400
    assert b"Yes, at night" in refused.content
    assert b"The file is empty." in refused.content
    assert Case.objects.get(pk=case.pk).status == CaseStatus.NEEDS_INFO
    sent = client_for(alice).post(url, {"text": "Yes, at night", "files": [jpeg_upload()]})
    assert sent.status_code == 302
    assert Case.objects.get(pk=case.pk).status == CaseStatus.SUBMITTED


def test_other_people_cannot_open_the_pages(
    alice: User,
    bob: User,
    dr_tex: User,
    lines: dict[str, ServiceLine],
    client_for: Callable[..., Client],
) -> None:
    start(client_for(alice))
    case = Case.objects.get(patient=alice)
    for suffix in ("", "questions/", "photos/", "review/"):
        assert client_for(bob).get(f"/patient/visits/{case.pk}/{suffix}").status_code == 404
    assert client_for(dr_tex).get(f"/patient/visits/{case.pk}/").status_code == 403
    # A draft is the patient's alone, even for a clinician who could later review it.
    assert client_for(dr_tex).get(f"/staff/cases/{case.pk}/review/").status_code == 404


def test_admin_imports_questionnaires_and_sees_errors(
    ada: User, alice: User, lines: dict[str, ServiceLine], client_for: Callable[..., Client]
) -> None:
    admin = client_for(ada)
    assert admin.get("/staff/admin/intake/questionnaires/").status_code == 200
    cyclic = {
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
    }
    url = "/staff/admin/intake/questionnaires/import/"
    refused = admin.post(url, {"code": "test", "title": "T", "definition": json.dumps(cyclic)})
    assert refused.status_code == 400
    assert "enableWhen conditions form a cycle: a → b → a." in refused.content.decode()
    not_json = admin.post(url, {"code": "test", "title": "T", "definition": "{nope"})
    assert "Not valid JSON" in not_json.content.decode()
    assert not Questionnaire.objects.filter(code="test").exists()

    derm = lines["dermatology"].questionnaire
    edit = admin.post(
        f"/staff/admin/intake/questionnaires/{derm.pk}/",
        {"code": derm.code, "title": derm.title, "definition": json.dumps(derm.definition)},
    )
    assert edit.status_code == 302
    assert Questionnaire.objects.filter(code=derm.code).count() == 2
    assert client_for(alice).get(url).status_code == 403


def test_admin_edits_a_service_line_with_rules_checked(
    ada: User, lines: dict[str, ServiceLine], client_for: Callable[..., Client]
) -> None:
    line = lines["uti"]
    url = f"/staff/admin/intake/service-lines/{line.pk}/"
    admin = client_for(ada)
    assert b"fever-flank-pain" in admin.get(url).content
    form = {
        "code": "uti",
        "name": "Urinary tract infection",
        "questionnaire": str(line.questionnaire_id),
        "sla_minutes": "120",
        "specialty": "primary-care",
        "allowed_modes": ["async", "video"],
        "active": "on",
        "red_flag_rules": json.dumps(
            [
                {
                    "id": "r",
                    "when": [{"question": "ghost", "operator": "exists", "answerBoolean": True}],
                    "outcome": "emergency",
                    "message": "Go now.",
                }
            ]
        ),
    }
    refused = admin.post(url, form)
    assert refused.status_code == 400
    assert "No question with linkId" in refused.content.decode()
    form["red_flag_rules"] = "[]"
    assert admin.post(url, form).status_code == 302
    line.refresh_from_db()
    assert line.sla_minutes == 120
    assert line.red_flag_rules == []
