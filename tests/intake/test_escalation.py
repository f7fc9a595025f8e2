"""Escalation from an async case to a live visit in the same episode: on-demand now (with the
clinician's intake panel in the room), a red flag that escalates on its own, the refusals,
de-escalation back to async follow-up, and the episode events on the way."""

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail
from django.test import Client

from carepath.accounts.models import User
from carepath.care.models import (
    Encounter,
    EncounterStatus,
    Episode,
    EscalationRequest,
    EscalationStatus,
)
from carepath.core import clock
from carepath.intake.models import Case, CaseMessage, CaseStatus, MessageKind, ServiceLine
from carepath.notifications.models import Notification
from carepath.visits.actions import do_invite_guest, do_request_on_demand
from carepath.visits.models import Participant, Visit, VisitKind, VisitStatus
from carepath.workqueue.actions import do_claim
from carepath.workqueue.models import WorkItem, WorkItemKind
from tests.intake.test_review import derm_case, post

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 2, 15, 0, tzinfo=dt.UTC)
ClientFor = Callable[..., Client]


def photo_id(case: Case) -> int:
    return int(case.answers["photos"][0])


def escalate(client: Client, case: Case, **body: Any) -> Any:
    payload = {"mode": "video", "reason": "I need to see how the rash moves.", **body}
    return post(client, f"/api/v1/intake/cases/{case.pk}/escalate", payload)


def visits(client: Client, path: str, body: object | None = None) -> Any:
    return client.post(f"/api/v1/visits{path}", body or {}, content_type="application/json")


def test_escalation_now_opens_a_live_visit_in_the_same_episode_and_back(
    alice: User,
    bob: User,
    dr_tex: User,
    dr_ny: User,
    lines: dict[str, ServiceLine],
    client_for: ClientFor,
    django_capture_on_commit_callbacks: Any,
    episode_events: list[Any],
) -> None:
    clock.freeze(NOW)
    with django_capture_on_commit_callbacks(execute=True):
        case = derm_case(alice, lines)
    do_claim(dr_tex, case.work_item_id or 0)
    tex = client_for(dr_tex)
    assert tex.get(f"/staff/cases/{case.pk}/review/").status_code == 200
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        response = escalate(tex, case, when="now")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "escalated"
    [escalation] = body["escalations"]
    visit = Visit.objects.select_related("encounter").get(pk=escalation["visit_id"])
    wait_url = f"/visits/{visit.pk}/wait/"
    assert escalation["wait_url"] == wait_url
    assert escalation["status"] == "scheduled"

    # One episode: the live encounter is new, escalated from the async one, planned until
    # the patient is admitted, and the visit is the escalating clinician's already.
    assert visit.kind == VisitKind.ON_DEMAND
    assert visit.clinician == dr_tex
    assert visit.work_item is None
    live = visit.encounter
    assert live is not None
    assert live.episode_id == case.episode_id
    assert live.escalated_from_id == case.encounter_id
    assert live.status == EncounterStatus.PLANNED
    assert live.clinician == dr_tex
    request = EscalationRequest.objects.get(encounter_id=case.encounter_id or 0)
    assert request.status == EscalationStatus.SCHEDULED
    assert request.live_encounter_id == live.pk

    # The patient is told, in the app and by e-mail, with a link to the waiting room (and no
    # health detail in the e-mail).
    notice = Notification.objects.get(user=alice, url=wait_url)
    assert "ready to see you" in notice.title
    [email] = mail.outbox
    assert email.to == [alice.email]
    assert wait_url in email.body
    for secret in ("rash", "Skin", "elbow", "dermat"):
        assert secret.lower() not in f"{email.subject} {email.body}".lower()
    status_page = client_for(alice).get(f"/patient/visits/{case.pk}/").content.decode()
    assert re.search(rf'href="{wait_url}"[^>]*id="join-visit">Join your visit<', status_page)

    # The clinician's room has the intake panel: answers, the photo (access-checked), flags.
    room = tex.get(f"/visits/{visit.pk}/").content.decode()
    assert 'id="intake-heading">Intake<' in room
    assert "Itchy red patches" in room
    assert f'<img src="/files/{photo_id(case)}/thumbnail/"' in room
    assert "No red flags." in room
    assert "would like to see you now" in room  # the case messages
    assert tex.get(f"/files/{photo_id(case)}/thumbnail/").status_code == 200

    # Nobody else joins or sees the panel or the photo.
    for outsider in (bob, dr_ny):
        other = client_for(outsider)
        assert other.get(f"/visits/{visit.pk}/").status_code == 404
        assert other.get(wait_url).status_code == 404
        assert other.get(f"/files/{photo_id(case)}/thumbnail/").status_code == 404
    alice_client = client_for(alice)
    assert alice_client.get(wait_url).status_code == 200
    assert b"is ready to see you" in alice_client.get(wait_url).content
    assert visits(alice_client, f"/{visit.pk}/check-in", {"camera": True}).status_code == 200

    # The clinician admits the patient as in any visit: the planned encounter starts (no new
    # episode, no new encounter).
    patient = Participant.objects.get(visit=visit, user=alice)
    with django_capture_on_commit_callbacks(execute=True):
        admitted = visits(tex, f"/{visit.pk}/participants/{patient.pk}/admit")
    assert admitted.status_code == 200, admitted.json()
    visit.refresh_from_db()
    assert visit.status == VisitStatus.IN_PROGRESS
    assert visit.encounter_id == live.pk
    assert Encounter.objects.get(pk=live.pk).status == EncounterStatus.IN_PROGRESS
    assert Episode.objects.filter(patient=alice).count() == 1
    patient_room = alice_client.get(f"/visits/{visit.pk}/").content.decode()
    assert "intake-panel" not in patient_room
    assert "Itchy red patches" not in patient_room

    # An interpreter the clinician invites never sees the panel either.
    _link, token = do_invite_guest(visit, by=dr_tex, role="interpreter", name="Ines")
    guest = Client()
    named = guest.post(f"/visits/{visit.pk}/join/{token}/", {"name": "Ines"})
    assert named.status_code == 302
    interpreter = Participant.objects.get(visit=visit, role="interpreter")
    assert visits(tex, f"/{visit.pk}/participants/{interpreter.pk}/admit").status_code == 200
    guest_room = guest.get(f"/visits/{visit.pk}/").content.decode()
    assert 'id="visit-root"' in guest_room
    assert "intake-panel" not in guest_room
    assert "Itchy red patches" not in guest_room

    # The note is written and signed from the visit.
    note = {"assessment": "Nummular eczema.", "plan": "Triamcinolone 0.1% twice daily."}
    assert (
        tex.put(
            f"/api/v1/visits/{visit.pk}/note", note, content_type="application/json"
        ).status_code
        == 200
    )
    with django_capture_on_commit_callbacks(execute=True):
        signed = visits(tex, f"/{visit.pk}/note/sign")
    assert signed.json()["status"] == "signed"

    # Ending the visit returns the case to async follow-up.
    with django_capture_on_commit_callbacks(execute=True):
        ended = visits(tex, f"/{visit.pk}/end")
    assert ended.status_code == 200
    case.refresh_from_db()
    assert case.status == CaseStatus.FOLLOW_UP
    request.refresh_from_db()
    assert request.status == EscalationStatus.COMPLETED
    assert CaseMessage.objects.filter(case=case, kind=MessageKind.VISIT).exists()
    page = alice_client.get(f"/patient/visits/{case.pk}/").content.decode()
    assert "After your live visit" in page
    assert "Triamcinolone" in page
    assert "Write to your clinician" in page
    wrote = post(alice_client, f"/api/v1/intake/cases/{case.pk}/reply", {"text": "It itches less."})
    assert wrote.status_code == 200, wrote.json()
    assert wrote.json()["status"] == "follow_up"
    assert Notification.objects.filter(user=dr_tex, url=f"/staff/cases/{case.pk}/review/").exists()
    answered = post(tex, f"/api/v1/intake/cases/{case.pk}/messages", {"text": "Good."})
    assert answered.status_code == 201, answered.json()
    assert (
        post(
            bob_client := client_for(bob), f"/api/v1/intake/cases/{case.pk}/reply", {"text": "x"}
        ).status_code
        == 404
    )
    assert bob_client.get(f"/patient/visits/{case.pk}/").status_code == 404
    assert (
        post(client_for(dr_ny), f"/api/v1/intake/cases/{case.pk}/messages", {"text": "x"})
    ).status_code == 404
    with django_capture_on_commit_callbacks(execute=True):
        closed = post(tex, f"/api/v1/intake/cases/{case.pk}/close", {"reason": "Improving."})
    assert closed.status_code == 200, closed.json()

    names = [event.name for event in episode_events]
    assert names == [
        "case.submitted",
        "case.escalated",
        "visit.scheduled",
        "visit.started",
        "note.signed",
        "visit.ended",
        "case.closed",
    ]
    assert {event.episode_id for event in episode_events} == {case.episode_id}
    started = episode_events[3]
    assert started.detail["escalated_from"] == case.encounter_id
    assert started.actor_id == dr_tex.pk


def test_escalation_now_from_the_review_page_takes_the_clinician_to_the_room(
    alice: User, dr_tex: User, lines: dict[str, ServiceLine], client_for: ClientFor
) -> None:
    case = derm_case(alice, lines)
    do_claim(dr_tex, case.work_item_id or 0)
    tex = client_for(dr_tex)
    page = tex.get(f"/staff/cases/{case.pk}/review/").content.decode()
    assert ">Escalate to a live visit<" in page
    assert 'value="now" id="escalate-now"' in page
    assert ">Start video visit now<" in page
    assert "encounter_prescribing" not in page  # the lead's spot is a comment only
    url = f"/staff/cases/{case.pk}/escalate/"
    missing = tex.post(url, {"escalate-mode": "video", "when": "now"})
    assert missing.status_code == 400
    assert Visit.objects.count() == 0
    done = tex.post(
        url, {"escalate-mode": "video", "escalate-reason": "Look closer.", "when": "now"}
    )
    visit = Visit.objects.get(patient=alice)
    assert done.status_code == 302
    assert done["Location"] == f"/visits/{visit.pk}/"
    review = tex.get(f"/staff/cases/{case.pk}/review/").content.decode()
    assert f'href="/visits/{visit.pk}/" id="go-to-room"' in review


def test_escalation_is_refused_when_it_cannot_happen(
    alice: User,
    bob: User,
    dr_tex: User,
    dr_ny: User,
    lines: dict[str, ServiceLine],
    client_for: ClientFor,
) -> None:
    case = derm_case(alice, lines)
    tex = client_for(dr_tex)
    # Without the claim the clinician has no relationship with the patient: nothing to see.
    assert escalate(tex, case, when="now").status_code == 404
    do_claim(dr_tex, case.work_item_id or 0)
    assert escalate(client_for(dr_ny), case, when="now").status_code == 404
    assert escalate(client_for(alice), case, when="now").status_code == 403
    assert escalate(client_for(bob), case, when="now").status_code == 403
    facilitated = escalate(tex, case, mode="facilitated", when="now")
    assert facilitated.status_code == 422
    assert facilitated.json()["error"]["code"] == "invalid_mode"
    assert escalate(tex, case, when="tomorrow").status_code == 422
    # A patient already waiting for another live visit: refused, nothing half-done.
    waiting = do_request_on_demand(alice, reason="Cough")
    busy = escalate(tex, case, when="now")
    assert busy.status_code == 409
    assert busy.json()["error"]["code"] == "visit_open"
    case.refresh_from_db()
    assert case.status == CaseStatus.SUBMITTED
    assert not EscalationRequest.objects.exists()
    Visit.objects.filter(pk=waiting.pk).update(status=VisitStatus.CANCELLED)

    # Answered (or closed) cases are not escalated.
    answered = post(
        tex,
        f"/api/v1/intake/cases/{case.pk}/answer",
        {"message": "Cream.", "assessment": "Eczema", "plan": "Emollients"},
    )
    assert answered.status_code == 200
    assert escalate(tex, case, when="now").status_code == 409
    other = derm_case(alice, lines)
    do_claim(dr_tex, other.work_item_id or 0)
    post(tex, f"/api/v1/intake/cases/{other.pk}/close", {"reason": "Duplicate."})
    assert escalate(tex, other, when="scheduled").status_code == 409
    assert not EscalationRequest.objects.exists()


def test_a_red_flag_escalates_on_its_own_into_the_shared_queue(
    alice: User,
    dr_tex: User,
    dr_ny: User,
    lines: dict[str, ServiceLine],
    client_for: ClientFor,
    django_capture_on_commit_callbacks: Any,
    episode_events: list[Any],
) -> None:
    clock.freeze(NOW)
    alice_client = client_for(alice)
    with django_capture_on_commit_callbacks(execute=True):
        case = derm_case(alice, lines, spreading=True, fever=True, temperature=102.5)
    assert case.status == CaseStatus.ESCALATED
    visit = Visit.objects.select_related("encounter", "work_item").get(patient=alice)
    assert visit.kind == VisitKind.ON_DEMAND
    assert visit.clinician is None  # no clinician needed to trigger it
    live = visit.encounter
    assert live is not None
    assert live.episode_id == case.episode_id
    assert live.escalated_from_id == case.encounter_id
    item = visit.work_item
    assert item is not None
    assert item.kind == WorkItemKind.ON_DEMAND
    assert item.priority == 50
    assert item.due_at == NOW + dt.timedelta(minutes=30)
    assert item.required_state == "TX"
    request = EscalationRequest.objects.get(encounter_id=case.encounter_id or 0)
    assert request.requested_by is None
    assert request.status == EscalationStatus.SCHEDULED
    assert request.live_encounter_id == live.pk
    wait_url = f"/visits/{visit.pk}/wait/"
    assert Notification.objects.filter(user=alice, url=wait_url).exists()
    assert wait_url in mail.outbox[-1].body
    assert [event.name for event in episode_events] == [
        "case.submitted",
        "case.escalated",
        "visit.scheduled",
    ]
    # The API tells the patient where to go.
    shown = alice_client.get(f"/api/v1/intake/cases/{case.pk}").json()
    assert shown["escalations"][0]["wait_url"] == wait_url
    assert shown["escalations"][0]["by_red_flag"] is True
    assert shown["escalations"][0]["booking_url"] is None

    # Only an eligible clinician (TX, dermatology) takes it; it opens in the same episode with
    # the panel (the red flag shown).
    assert visits(client_for(dr_ny), f"/{visit.pk}/take").status_code == 404
    with django_capture_on_commit_callbacks(execute=True):
        taken = visits(client_for(dr_tex), f"/{visit.pk}/take")
    assert taken.status_code == 200, taken.json()
    visit.refresh_from_db()
    assert visit.status == VisitStatus.IN_PROGRESS
    assert visit.encounter_id == live.pk
    assert Encounter.objects.get(pk=live.pk).clinician == dr_tex
    assert Episode.objects.filter(patient=alice).count() == 1
    room = client_for(dr_tex).get(f"/visits/{visit.pk}/").content.decode()
    assert 'id="intake-red-flag"' in room
    assert "Needs a live visit now" in room
    assert f"/files/{photo_id(case)}/thumbnail/" in room
    assert episode_events[-1].name == "visit.started"
    assert WorkItem.objects.filter(kind=WorkItemKind.ASYNC_CASE).count() == 0


def test_red_flag_page_submit_takes_the_patient_to_the_waiting_room(
    alice: User, dr_tex: User, lines: dict[str, ServiceLine], client_for: ClientFor
) -> None:
    from carepath.intake.actions import do_start_case
    from tests.intake.conftest import derm_answers, upload_photo

    case = do_start_case(alice, lines["dermatology"], "TX")
    case.answers = derm_answers(
        [upload_photo(alice)], spreading=True, fever=True, temperature=102.5
    )
    case.save()
    response = client_for(alice).post(f"/patient/visits/{case.pk}/review/", {})
    visit = Visit.objects.get(patient=alice)
    assert response.status_code == 302
    assert response["Location"] == f"/visits/{visit.pk}/wait/"


def test_emergency_red_flag_keeps_its_route(
    alice: User,
    dr_tex: User,
    lines: dict[str, ServiceLine],
    episode_events: list[Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        case = derm_case(alice, lines, breathing=True)
    assert case.status == CaseStatus.ESCALATED
    assert not Visit.objects.exists()
    assert WorkItem.objects.get(pk=case.work_item_id or 0).kind == WorkItemKind.ASYNC_CASE
    assert [event.name for event in episode_events] == ["case.submitted"]


def test_case_events_of_the_async_path(
    alice: User,
    dr_tex: User,
    lines: dict[str, ServiceLine],
    client_for: ClientFor,
    django_capture_on_commit_callbacks: Any,
    episode_events: list[Any],
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        case = derm_case(alice, lines)
        do_claim(dr_tex, case.work_item_id or 0)
        tex = client_for(dr_tex)
        post(tex, f"/api/v1/intake/cases/{case.pk}/request-info", {"question": "Photo?"})
        post(client_for(alice), f"/api/v1/intake/cases/{case.pk}/reply", {"text": "Sent."})
        do_claim(dr_tex, case.work_item_id or 0)
        post(
            tex,
            f"/api/v1/intake/cases/{case.pk}/answer",
            {"message": "Cream.", "assessment": "Eczema", "plan": "Emollients"},
        )
    names = [event.name for event in episode_events]
    assert names == ["case.submitted", "case.needs_info", "note.signed", "case.answered"]
    assert all(
        event.detail["case_id"] == case.pk for event in episode_events if "case" in event.name
    )
