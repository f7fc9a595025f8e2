"""The clinician's side: claim from the queue, review, answer / ask / escalate / close, and
the red-flag routing on submit."""

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.test import Client

from carepath.accounts.models import User
from carepath.care.models import ClinicalNote, EscalationRequest, SignedNoteImmutable
from carepath.core import clock
from carepath.intake.actions import do_start_case, do_submit_case, reply_due_at
from carepath.intake.models import Case, CaseStatus, ServiceLine
from carepath.notifications.models import Notification
from carepath.workqueue.actions import do_claim
from carepath.workqueue.models import WorkItem, WorkItemStatus
from carepath.workqueue.selectors import eligible_items_for
from tests.intake.conftest import derm_answers, upload_photo

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 2, 15, 0, tzinfo=dt.UTC)


def submitted_case(patient: User, line: ServiceLine, answers: dict[str, Any]) -> Case:
    case = do_start_case(patient, line, "TX")
    case.answers = answers
    case.save()
    return do_submit_case(patient, case)


def derm_case(patient: User, lines: dict[str, ServiceLine], **answers: Any) -> Case:
    return submitted_case(
        patient, lines["dermatology"], derm_answers([upload_photo(patient)], **answers)
    )


def post(client: Client, url: str, body: Any) -> Any:
    return client.post(url, body, content_type="application/json")


def test_texas_case_is_seen_claimed_and_answered_by_a_texas_clinician_only(
    alice: User,
    dr_tex: User,
    dr_ny: User,
    lines: dict[str, ServiceLine],
    client_for: Callable[..., Client],
    django_capture_on_commit_callbacks: Any,
) -> None:
    clock.freeze(NOW)
    case = derm_case(alice, lines)
    item = WorkItem.objects.get(pk=case.work_item_id or 0)
    assert item in eligible_items_for(dr_tex)
    assert item not in eligible_items_for(dr_ny)
    assert client_for(dr_ny).get(f"/staff/cases/{case.pk}/review/").status_code == 404

    do_claim(dr_tex, item.pk)
    tex = client_for(dr_tex)
    page = tex.get(f"/staff/cases/{case.pk}/review/")
    assert page.status_code == 200
    assert b"Itchy red patches" in page.content
    assert b"/thumbnail/" in page.content  # photos shown, linked to the full image
    assert Case.objects.get(pk=case.pk).status == CaseStatus.IN_REVIEW

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = post(
            tex,
            f"/api/v1/intake/cases/{case.pk}/answer",
            {
                "message": "This looks like eczema. Use the cream twice a day.",
                "assessment": "Atopic dermatitis, elbows.",
                "plan": "Hydrocortisone 1% twice daily for 7 days; emollients.",
            },
        )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "answered"
    assert body["answer"]["plan"].startswith("Hydrocortisone")
    item.refresh_from_db()
    assert item.status == WorkItemStatus.DONE
    note = ClinicalNote.objects.get(encounter_id=case.encounter_id or 0)
    assert note.status == "signed"
    assert note.signed_at == NOW
    case.refresh_from_db()
    assert case.encounter is not None
    assert case.encounter.status == "finished"

    # The patient sees the answer, is told in the app, and by e-mail without any detail.
    assert Notification.objects.filter(user=alice, url=f"/patient/visits/{case.pk}/").exists()
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == [alice.email]
    assert "new message in Carepath" in email.body
    for secret in ("eczema", "Hydrocortisone", "Skin", "dermat", "rash"):
        assert secret.lower() not in f"{email.subject} {email.body}".lower()
    status_page = client_for(alice).get(f"/patient/visits/{case.pk}/")
    assert b"Use the cream twice a day" in status_page.content
    assert b"Hydrocortisone" in status_page.content


def test_needs_info_then_reply_requeues_with_the_documented_due_at(
    alice: User, dr_tex: User, lines: dict[str, ServiceLine], client_for: Callable[..., Client]
) -> None:
    clock.freeze(NOW)
    case = derm_case(alice, lines)
    do_claim(dr_tex, case.work_item_id or 0)
    asked = post(
        client_for(dr_tex),
        f"/api/v1/intake/cases/{case.pk}/request-info",
        {"question": "Does it itch at night? Please send a photo in daylight."},
    )
    assert asked.json()["status"] == "needs_info"
    item = WorkItem.objects.get(pk=case.work_item_id or 0)
    assert item.status == WorkItemStatus.DONE  # parked while we wait for the patient

    replied_at = clock.advance(dt.timedelta(hours=30))
    photo = upload_photo(alice)
    reply = post(
        client_for(alice),
        f"/api/v1/intake/cases/{case.pk}/reply",
        {"text": "Yes, mostly at night. Photo attached.", "file_ids": [photo]},
    )
    assert reply.status_code == 200, reply.json()
    assert reply.json()["status"] == "submitted"
    assert reply.json()["messages"][-1]["attachments"][0]["file_id"] == photo
    item.refresh_from_db()
    assert item.status == WorkItemStatus.OPEN
    # Rule: reply time + max(half the SLA, 1 hour), capped at the SLA: 1440 min -> 12 h.
    assert item.due_at == replied_at + dt.timedelta(hours=12)
    assert reply_due_at(lines["uti"], replied_at) == replied_at + dt.timedelta(hours=2)
    line = ServiceLine(sla_minutes=30)
    assert reply_due_at(line, replied_at) == replied_at + dt.timedelta(minutes=30)
    # Replying twice is refused: the case is no longer waiting for the patient.
    again = post(client_for(alice), f"/api/v1/intake/cases/{case.pk}/reply", {"text": "More"})
    assert again.status_code == 409


def test_escalate_records_the_request_and_close(
    alice: User, dr_tex: User, lines: dict[str, ServiceLine], client_for: Callable[..., Client]
) -> None:
    case = derm_case(alice, lines)
    do_claim(dr_tex, case.work_item_id or 0)
    tex = client_for(dr_tex)
    bad = post(
        tex, f"/api/v1/intake/cases/{case.pk}/escalate", {"mode": "carrier-pigeon", "reason": "x"}
    )
    assert bad.status_code == 422
    response = post(
        tex,
        f"/api/v1/intake/cases/{case.pk}/escalate",
        {"mode": "video", "reason": "Need to see the lesion move."},
    )
    assert response.json()["status"] == "escalated"
    request = EscalationRequest.objects.get(encounter_id=case.encounter_id or 0)
    assert request.mode_wanted == "video"
    assert request.requested_by == dr_tex
    # Once done, the clinician no longer holds it and cannot act again.
    closing = post(tex, f"/api/v1/intake/cases/{case.pk}/close", {"reason": "Seen live."})
    assert closing.status_code == 409


def test_emergency_red_flag_escalates_and_tells_the_patient_plainly(
    alice: User, dr_tex: User, lines: dict[str, ServiceLine], client_for: Callable[..., Client]
) -> None:
    clock.freeze(NOW)
    case = derm_case(alice, lines, breathing=True)
    assert case.status == CaseStatus.ESCALATED
    assert case.red_flag_outcome == "emergency"
    item = WorkItem.objects.get(pk=case.work_item_id or 0)
    assert item.priority == 100
    assert item.due_at == NOW + dt.timedelta(minutes=15)
    page = client_for(alice).get(f"/patient/visits/{case.pk}/")
    assert b"Go to emergency care or call 911 now." in page.content


def test_live_visit_red_flag_gets_high_priority_and_a_short_due(
    alice: User, dr_tex: User, lines: dict[str, ServiceLine], client_for: Callable[..., Client]
) -> None:
    """The red flag escalates on its own: the queue item is an on-demand visit request
    (tests/intake/test_escalation.py follows it into the visit)."""
    clock.freeze(NOW)
    case = derm_case(alice, lines, spreading=True, fever=True, temperature=102.5)
    assert case.status == CaseStatus.ESCALATED
    assert case.needs_live_visit
    assert case.red_flag_outcome == "live_visit_now"
    assert case.work_item_id is None
    item = WorkItem.objects.get(kind="on_demand", patient=alice)
    assert item.priority == 50
    assert item.due_at == NOW + dt.timedelta(minutes=30)
    assert EscalationRequest.objects.filter(encounter_id=case.encounter_id or 0).exists()
    page = client_for(alice).get(f"/patient/visits/{case.pk}/").content
    assert b"You need a live visit now" in page
    assert b"Join your visit" in page


def test_signed_note_is_immutable_and_amended(
    alice: User, dr_tex: User, lines: dict[str, ServiceLine], client_for: Callable[..., Client]
) -> None:
    case = derm_case(alice, lines)
    do_claim(dr_tex, case.work_item_id or 0)
    tex = client_for(dr_tex)
    post(
        tex,
        f"/api/v1/intake/cases/{case.pk}/answer",
        {"message": "Cream.", "assessment": "Eczema", "plan": "Emollients"},
    )
    note = ClinicalNote.objects.get(encounter_id=case.encounter_id or 0)
    note.plan = "Changed quietly"
    with pytest.raises(SignedNoteImmutable):
        note.save()
    note.refresh_from_db()
    assert note.plan == "Emollients"
    # Saving the draft again starts nothing on the signed note.
    again = client_for(dr_tex).put(
        f"/api/v1/intake/cases/{case.pk}/note",
        {"plan": "x"},
        content_type="application/json",
    )
    assert again.status_code == 409
    amended = post(tex, f"/api/v1/care/notes/{note.pk}/amendments", {"text": "Add sunscreen."})
    assert amended.status_code == 201
    assert (
        post(
            client_for(alice), f"/api/v1/care/notes/{note.pk}/amendments", {"text": "x"}
        ).status_code
        == 403
    )
    shown = client_for(alice).get(f"/api/v1/intake/cases/{case.pk}").json()
    assert shown["answer"]["amendments"] == ["Add sunscreen."]


def test_review_page_forms_answer_the_case(
    alice: User,
    dr_tex: User,
    lines: dict[str, ServiceLine],
    client_for: Callable[..., Client],
    media_root: Path,
) -> None:
    case = derm_case(alice, lines)
    do_claim(dr_tex, case.work_item_id or 0)
    tex = client_for(dr_tex)
    url = f"/staff/cases/{case.pk}/answer/"
    draft = tex.post(url, {"save": "draft", "answer-assessment": "Probably eczema"})
    assert draft.status_code == 302
    page = tex.get(f"/staff/cases/{case.pk}/review/")
    assert b"Probably eczema" in page.content
    missing = tex.post(url, {"save": "sign", "answer-assessment": "Eczema", "answer-plan": "Cream"})
    assert missing.status_code == 400
    assert b"This field is required." in missing.content  # the patient message
    assert b"Eczema" in missing.content  # what was typed is still there
    done = tex.post(
        url,
        {
            "save": "sign",
            "answer-assessment": "Eczema",
            "answer-plan": "Cream",
            "answer-message": "Use cream.",
        },
    )
    assert done.status_code == 302
    assert Case.objects.get(pk=case.pk).status == CaseStatus.ANSWERED
    assert client_for(alice).get(f"/staff/cases/{case.pk}/review/").status_code == 403
