"""Secure messaging through the API and the pages: threads, access, idempotent send,
entered in error, read receipts, the work item and its SLA, nudges without health information,
scoped search, attachments, quick replies."""

import datetime as dt
import io
from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail
from django.test import Client, override_settings
from PIL import Image

from carepath.accounts.models import PatientProfile, User
from carepath.audit.models import AuditEvent
from carepath.core import clock
from carepath.messaging.actions import do_send_message, do_start_thread
from carepath.messaging.models import Message, MessageAttachment, Participant, Thread, ThreadKind
from carepath.notifications.models import Notification
from carepath.sms.models import SmsOutbox
from carepath.workqueue.actions import do_claim
from carepath.workqueue.models import WorkItem, WorkItemStatus
from carepath.workqueue.selectors import eligible_items_for
from tests.messaging.helpers import care_team, patient_thread
from tests.personas import make_clinician

ClientFor = Callable[..., Client]
API = "/api/v1/messages"


@pytest.fixture
def team(alice: User, dr_tex: User) -> User:
    care_team(dr_tex, alice)
    return dr_tex


def post(client: Client, url: str, body: dict[str, Any], **headers: str) -> Any:
    return client.post(url, body, content_type="application/json", headers=headers)


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (12, 12), "green").save(out, "PNG")
    return out.getvalue()


def upload(name: str, data: bytes) -> io.BytesIO:
    handle = io.BytesIO(data)
    handle.name = name
    return handle


# --- Threads and access --------------------------------------------------------------------


def test_patient_starts_a_thread_with_the_care_team(
    alice: User, team: User, client_for: ClientFor
) -> None:
    response = post(
        client_for(alice), f"{API}/threads", {"subject": "Cream", "body": "Does it sting?"}
    )
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["kind"] == "patient"
    assert data["patient_id"] == alice.pk
    assert data["last_seq"] == 1
    assert {p["user_id"] for p in data["participants"]} == {alice.pk, team.pk}
    listed = client_for(team).get(f"{API}/threads").json()
    assert [t["id"] for t in listed] == [data["id"]]
    assert listed[0]["unread"] == 1


def test_strangers_get_an_audited_404(
    alice: User, bob: User, team: User, dr_ny: User, ada: User, client_for: ClientFor
) -> None:
    thread = patient_thread(alice)
    for user in (bob, dr_ny, ada):
        client = client_for(user)
        assert client.get(f"{API}/threads/{thread.pk}").status_code == 404
        assert client.get(f"{API}/threads/{thread.pk}/messages").status_code == 404
        assert (
            post(client, f"{API}/threads/{thread.pk}/messages", {"body": "hi"}).status_code == 404
        )
        assert client.get(f"/messages/{thread.pk}/").status_code == 404
        assert client.get(f"{API}/threads").json() == []
        denied = AuditEvent.objects.filter(actor_id=user.pk, outcome="denied", patient_id=alice.pk)
        assert denied.filter(action="message_thread.read").exists()
        assert denied.filter(action="message.send").exists()
    assert Message.objects.filter(thread=thread).count() == 1
    # bob may not start a thread about alice, nor may a patient open a clinicians' thread.
    assert (
        post(
            client_for(bob), f"{API}/threads", {"subject": "x", "body": "y", "patient_id": alice.pk}
        ).status_code
        == 404
    )
    refused = post(
        client_for(alice), f"{API}/threads", {"subject": "x", "body": "y", "kind": "clinician"}
    )
    assert refused.status_code == 403


def test_clinician_thread_is_for_its_participants_not_the_patient(
    alice: User, team: User, dr_ny: User, client_for: ClientFor
) -> None:
    response = post(
        client_for(team),
        f"{API}/threads",
        {
            "kind": "clinician",
            "patient_id": alice.pk,
            "subject": "Second opinion",
            "body": "Would you biopsy this?",
            "participant_ids": [dr_ny.pk],
        },
    )
    assert response.status_code == 201, response.json()
    thread_id = response.json()["id"]
    # dr_ny has no care relationship with alice but is a participant: may read and answer.
    ny = client_for(dr_ny)
    assert ny.get(f"{API}/threads/{thread_id}/messages").status_code == 200
    assert post(ny, f"{API}/threads/{thread_id}/messages", {"body": "Yes."}).status_code == 201
    # alice never sees the clinicians' thread.
    assert client_for(alice).get(f"{API}/threads/{thread_id}").status_code == 404
    assert client_for(alice).get(f"{API}/threads").json() == []
    # A patient is never added as a participant of a clinicians' thread.
    bad = post(
        client_for(team),
        f"{API}/threads",
        {
            "kind": "clinician",
            "patient_id": alice.pk,
            "subject": "x",
            "body": "y",
            "participant_ids": [alice.pk],
        },
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "unknown_participant"


def test_one_patient_thread_per_episode(alice: User, team: User) -> None:
    from carepath.care.actions import do_open_episode

    episode = do_open_episode(alice, title="Rash, Nov 2026")
    first, _ = do_start_thread(
        alice,
        kind=ThreadKind.PATIENT,
        patient_id=alice.pk,
        subject="Rash",
        body="one",
        episode_id=episode.pk,
    )
    again, _ = do_start_thread(
        alice,
        kind=ThreadKind.PATIENT,
        patient_id=alice.pk,
        subject="Rash again",
        body="two",
        episode_id=episode.pk,
    )
    assert again.pk == first.pk
    assert list(Message.objects.filter(thread=first).values_list("seq", "body")) == [
        (1, "one"),
        (2, "two"),
    ]


# --- Sending ------------------------------------------------------------------------------


def test_idempotent_send_returns_the_first_message(
    alice: User, team: User, client_for: ClientFor
) -> None:
    thread = patient_thread(alice)
    client = client_for(alice)
    url = f"{API}/threads/{thread.pk}/messages"
    first = post(client, url, {"body": "Refill please"}, **{"Idempotency-Key": "k-123"})
    retry = post(client, url, {"body": "Refill please"}, **{"Idempotency-Key": "k-123"})
    assert first.status_code == retry.status_code == 201
    assert first.json()["id"] == retry.json()["id"]
    assert first.json()["seq"] == 2
    assert Message.objects.filter(thread=thread).count() == 2
    reused = post(client, url, {"body": "Something else"}, **{"Idempotency-Key": "k-123"})
    assert reused.status_code == 422
    assert reused.json()["error"]["code"] == "idempotency_key_reused"
    # Without a key two posts are two messages.
    post(client, url, {"body": "again"})
    post(client, url, {"body": "again"})
    assert list(Message.objects.filter(thread=thread).values_list("seq", flat=True)) == [1, 2, 3, 4]


def test_bad_bodies_are_field_errors(alice: User, team: User, client_for: ClientFor) -> None:
    thread = patient_thread(alice)
    client = client_for(alice)
    url = f"{API}/threads/{thread.pk}/messages"
    empty = post(client, url, {"body": "   "})
    assert empty.status_code == 400
    assert empty.json()["error"]["fields"][0]["field"] == "body"
    with override_settings(MESSAGE_MAX_LENGTH=20):
        long = post(client, url, {"body": "x" * 21})
    assert long.status_code == 400
    assert long.json()["error"]["code"] == "body_too_long"
    assert post(client, url, {"body": 5}).status_code == 422
    assert client.post(url, "{not json", content_type="application/json").status_code in {400, 422}
    assert post(client, url, {"body": "x", "attachment_ids": [987654]}).status_code == 400
    assert Message.objects.filter(thread=thread).count() == 1


def test_entered_in_error_is_struck_through_with_the_reason_and_audited(
    alice: User, bob: User, team: User, client_for: ClientFor
) -> None:
    thread = patient_thread(alice)
    message = do_send_message(team, thread, "Take 500 mg twice a day")
    url = f"{API}/{message.pk}/entered-in-error"
    # Only the author; a reason is required.
    assert post(client_for(alice), url, {"reason": "wrong"}).status_code == 403
    assert post(client_for(team), url, {"reason": "  "}).status_code == 400
    marked = post(client_for(team), url, {"reason": "Wrong dose; see next message"})
    assert marked.status_code == 200
    assert marked.json()["entered_in_error"] is True
    assert marked.json()["body"] == "Take 500 mg twice a day"
    assert post(client_for(team), url, {"reason": "again"}).status_code == 409
    message.refresh_from_db()
    assert message.body == "Take 500 mg twice a day"
    assert Message.objects.filter(thread=thread).count() == 2
    event = AuditEvent.objects.get(action="message.entered_in_error", outcome="allowed")
    assert (event.actor_id, event.patient_id, event.object_id) == (
        team.pk,
        alice.pk,
        str(message.pk),
    )
    page = client_for(alice).get(f"/messages/{thread.pk}/").content.decode()
    assert "<del>Take 500 mg twice a day</del>" in page
    assert "Entered in error: Wrong dose; see next message" in page
    # bob cannot mark (or even find) it.
    assert post(client_for(bob), url, {"reason": "x"}).status_code == 404


def test_entered_in_error_page(alice: User, team: User, client_for: ClientFor) -> None:
    thread = patient_thread(alice, "I am allergic to penicillin")
    message = Message.objects.get(thread=thread, seq=1)
    url = f"/messages/{thread.pk}/messages/{message.pk}/entered-in-error/"
    client = client_for(alice)
    assert client.get(url).status_code == 200
    assert client.post(url, {"reason": ""}).status_code == 400
    response = client.post(url, {"reason": "Wrong patient record"})
    assert response.status_code == 302
    message.refresh_from_db()
    assert message.entered_in_error_reason == "Wrong patient record"
    # The doctor sees the page but no form: only the author marks a message.
    assert "Only the author" in client_for(team).get(url).content.decode()
    assert client_for(team).post(url, {"reason": "x"}).status_code == 400


def test_read_receipts(alice: User, team: User, client_for: ClientFor) -> None:
    thread = patient_thread(alice, "First question")
    do_send_message(alice, thread, "Second question")
    receipts = {
        p["user_id"]: p["last_read_seq"]
        for p in client_for(alice).get(f"{API}/threads/{thread.pk}").json()["participants"]
    }
    assert receipts == {alice.pk: 2, team.pk: 0}
    assert "Read by" not in client_for(alice).get(f"/messages/{thread.pk}/").content.decode()
    # The doctor opens the thread: his receipt moves to the newest message.
    client_for(team).get(f"/messages/{thread.pk}/")
    assert Participant.objects.get(thread=thread, user=team).last_read_seq == 2
    page = client_for(alice).get(f"/messages/{thread.pk}/").content.decode()
    marker = f"Read by {team.display_name}"
    assert marker in page
    assert page.index(marker) > page.index("Second question")
    # Receipts never move back and never pass the newest message.
    doctor = client_for(team)
    back = post(doctor, f"{API}/threads/{thread.pk}/read", {"seq": 1})
    assert back.json()["last_read_seq"] == 2
    ahead = post(doctor, f"{API}/threads/{thread.pk}/read", {"seq": 99})
    assert ahead.json()["last_read_seq"] == 2
    assert post(doctor, f"{API}/threads/{thread.pk}/read", {"seq": -1}).status_code == 422


def test_inbox_unread_counts(alice: User, team: User, client_for: ClientFor) -> None:
    thread = patient_thread(alice, "Hello")
    do_send_message(alice, thread, "Hello again")
    page = client_for(team).get("/messages/").content.decode()
    assert 'data-unread="2"' in page
    assert "Question" in page
    client_for(team).get(f"/messages/{thread.pk}/")
    assert 'data-unread="2"' not in client_for(team).get("/messages/").content.decode()
    assert client_for(alice).get("/messages/").status_code == 200


# --- The work item ---------------------------------------------------------------------------


@override_settings(MESSAGE_SLA_MINUTES=90)
def test_patient_message_is_one_work_item_with_an_sla_and_a_reply_completes_it(
    alice: User, bob: User, dr_tex: User, dr_ny: User, client_for: ClientFor
) -> None:
    start = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC)
    clock.freeze(start)
    thread = patient_thread(alice, "My rash is worse")
    items = WorkItem.objects.filter(subject_type="message_thread", subject_id=str(thread.pk))
    item = items.get()
    assert item.kind == "message"
    assert item.status == WorkItemStatus.OPEN
    assert item.patient_id == alice.pk
    assert item.required_state == "TX"
    assert item.due_at == start + dt.timedelta(minutes=90)
    clock.advance(dt.timedelta(minutes=10))
    do_send_message(alice, thread, "Also it itches")
    assert items.count() == 1  # one open item per thread; the SLA runs from the first message
    # Only clinicians licensed in TX see it; claiming opens the thread.
    assert item in eligible_items_for(dr_tex)
    assert item not in eligible_items_for(dr_ny)
    doctor = client_for(dr_tex)
    assert doctor.get(f"/messages/{thread.pk}/").status_code == 404  # no relationship yet
    claimed = doctor.post(f"/staff/queue/{item.pk}/claim/")
    assert claimed.status_code == 302
    assert claimed["Location"] == f"/messages/{thread.pk}/"
    page = doctor.get(f"/messages/{thread.pk}/")
    assert page.status_code == 200
    assert "Waiting for a reply from the care team" in page.content.decode()
    # The reply completes it.
    assert (
        post(doctor, f"{API}/threads/{thread.pk}/messages", {"body": "Try this"}).status_code == 201
    )
    item.refresh_from_db()
    assert item.status == WorkItemStatus.DONE
    assert item.claimed_by_id == dr_tex.pk
    # A new patient message is new work.
    do_send_message(alice, thread, "Thanks, and one more thing")
    assert items.filter(status=WorkItemStatus.OPEN).count() == 1


def test_a_care_team_reply_completes_the_item_without_a_claim_first(
    alice: User, team: User, cody: User
) -> None:
    thread = patient_thread(alice)
    care_team(cody, alice)
    do_send_message(cody, thread, "A clinician will answer soon")  # a coordinator: still open
    item = WorkItem.objects.get(subject_type="message_thread", subject_id=str(thread.pk))
    assert item.status == WorkItemStatus.OPEN
    do_send_message(team, thread, "Here is my answer")
    item.refresh_from_db()
    assert item.status == WorkItemStatus.DONE


def test_an_ineligible_clinicians_answer_still_closes_the_item(
    alice: User, team: User, client_for: ClientFor
) -> None:
    """A care-team clinician not licensed in the patient's state cannot hold the item, but
    the answer is given: the item is cancelled as answered, not left waiting."""
    other = make_clinician("dr.ca@example.com", "1417193012", ["CA"], ["dermatology"])
    care_team(other, alice)
    thread = patient_thread(alice)
    item = WorkItem.objects.get(subject_type="message_thread", subject_id=str(thread.pk))
    do_claim(team, item.pk)
    do_send_message(other, thread, "Answered")
    item.refresh_from_db()
    assert item.status == WorkItemStatus.CANCELLED


# --- Nudges ---------------------------------------------------------------------------------


def test_nudge_has_no_health_information_and_is_rate_limited(
    alice: User, team: User, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    def committed(send: Callable[[], object]) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            send()

    PatientProfile.objects.filter(user=alice).update(phone="+15125550100")
    clock.freeze(dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC))
    mail.outbox.clear()
    holder: list[Thread] = []
    committed(
        lambda: holder.append(patient_thread(alice, "My rash is bleeding", "Rash after biopsy"))
    )
    thread = holder[0]
    assert len(mail.outbox) == 1
    nudge = mail.outbox[0]
    assert nudge.to == [team.email]
    text = f"{nudge.subject}\n{nudge.body}".lower()
    for secret in ("rash", "bleeding", "biopsy", "alice"):
        assert secret not in text
    assert "You have a new secure message in Carepath" in nudge.body
    notice = Notification.objects.get(user=team)
    assert notice.title == "New secure message"
    assert notice.body == ""
    # Within the window: no second nudge to the same person for this thread.
    committed(lambda: do_send_message(alice, thread, "Still bleeding"))
    assert len(mail.outbox) == 1
    # The clinician answers: alice (who has a phone) gets e-mail and SMS, both without content.
    committed(lambda: do_send_message(team, thread, "Press on it and come in"))
    assert [m.to for m in mail.outbox[1:]] == [[alice.email]]
    sms = SmsOutbox.objects.get()
    assert sms.to == "+15125550100"
    assert "press" not in sms.body.lower()
    assert "secure message" in sms.body
    # After the window the next message nudges again.
    clock.advance(dt.timedelta(minutes=16))
    committed(lambda: do_send_message(alice, thread, "Coming in now"))
    assert [m.to for m in mail.outbox[2:]] == [[team.email]]
    assert AuditEvent.objects.filter(action="message.nudge", patient_id=alice.pk).count() == 3


def test_no_nudge_for_what_was_already_read(alice: User, team: User) -> None:
    mail.outbox.clear()
    thread = patient_thread(alice)
    mail.outbox.clear()
    from carepath.messaging.tasks import deliver_nudges

    Participant.objects.filter(thread=thread, user=team).update(
        last_read_seq=5, last_nudged_at=None
    )
    assert deliver_nudges(Message.objects.get(thread=thread, seq=1).pk) == 0
    assert mail.outbox == []


# --- Search ---------------------------------------------------------------------------------


def test_search_is_scoped_and_audited(
    alice: User, bob: User, team: User, dr_ny: User, client_for: ClientFor
) -> None:
    mine = patient_thread(alice, "The spot is itchy at night")
    patient_thread(bob, "Itchy eyes")
    do_start_thread(
        team,
        kind=ThreadKind.CLINICIAN,
        patient_id=alice.pk,
        subject="Colleagues",
        body="Itchy lesion, thoughts?",
    )
    url = f"{API}/search"
    own = client_for(alice).get(url, {"patient_id": str(alice.pk), "q": "ITCHY"}).json()
    assert [m["body"] for m in own] == ["The spot is itchy at night"]
    assert own[0]["thread_id"] == mine.pk
    staff = client_for(team).get(url, {"patient_id": str(alice.pk), "q": "itchy"}).json()
    assert sorted(m["body"] for m in staff) == [
        "Itchy lesion, thoughts?",
        "The spot is itchy at night",
    ]
    assert client_for(alice).get(url, {"patient_id": str(bob.pk), "q": "itchy"}).status_code == 404
    assert (
        client_for(dr_ny).get(url, {"patient_id": str(alice.pk), "q": "itchy"}).status_code == 404
    )
    assert AuditEvent.objects.filter(
        action="message.search", outcome="denied", actor_id=dr_ny.pk, patient_id=alice.pk
    ).exists()
    allowed = AuditEvent.objects.filter(
        action="message.search", outcome="allowed", actor_id=alice.pk
    )
    assert allowed.get().detail == {"results": 1, "query_length": 5}
    # The page: patients search their own, staff name the patient.
    page = client_for(alice).get("/messages/search/", {"q": "itchy"}).content.decode()
    assert "The spot is itchy at night" in page
    assert "Itchy eyes" not in page
    assert "Itchy lesion" not in page
    staff_page = client_for(team).get(
        "/messages/search/", {"patient": str(alice.pk), "q": "lesion"}
    )
    assert "Itchy lesion, thoughts?" in staff_page.content.decode()
    assert (
        client_for(dr_ny).get("/messages/search/", {"patient": str(alice.pk), "q": "x"}).status_code
        == 404
    )


# --- Attachments ------------------------------------------------------------------------------


def test_attachments_go_through_the_upload_pipeline(
    alice: User, bob: User, team: User, client_for: ClientFor
) -> None:
    thread = patient_thread(alice)
    client = client_for(alice)
    response = client.post(
        f"/messages/{thread.pk}/",
        {"body": "Photo attached", "attachments": [upload("arm.png", png_bytes())]},
    )
    assert response.status_code == 302
    message = Message.objects.get(thread=thread, seq=2)
    attachment = MessageAttachment.objects.get(message=message)
    assert attachment.file.patient_id == alice.pk
    assert attachment.file.content_type == "image/png"
    served = client_for(team).get(f"/messages/attachments/{attachment.pk}/")
    assert served.status_code == 200
    assert served["Content-Type"] == "image/png"
    assert served["X-Content-Type-Options"] == "nosniff"
    assert client_for(bob).get(f"/messages/attachments/{attachment.pk}/").status_code == 404
    # A file that is not an allowed type is refused beside the field; nothing is sent.
    bad = client.post(
        f"/messages/{thread.pk}/",
        {"body": "see file", "attachments": [upload("x.png", b"MZ\x90\x00 not an image")]},
    )
    assert bad.status_code == 400
    assert "not accepted" in bad.content.decode()
    assert Message.objects.filter(thread=thread).count() == 2
    # Through the API: upload, then send by id.
    stored = client.post(
        f"{API}/threads/{thread.pk}/attachments", {"file": upload("b.png", png_bytes())}
    )
    assert stored.status_code == 201
    sent = post(
        client, f"{API}/threads/{thread.pk}/messages", {"attachment_ids": [stored.json()["id"]]}
    )
    assert sent.status_code == 201
    assert [a["name"] for a in sent.json()["attachments"]] == ["b.png"]
    # Someone else's file cannot be attached.
    theirs = post(
        client_for(team),
        f"{API}/threads/{thread.pk}/messages",
        {"attachment_ids": [stored.json()["id"]]},
    )
    assert theirs.status_code == 400


# --- Quick replies ------------------------------------------------------------------------------


def test_quick_replies(
    alice: User, team: User, dr_ny: User, cody: User, client_for: ClientFor
) -> None:
    url = f"{API}/templates"
    mine = post(client_for(team), url, {"title": "Photo please", "body": "Please send a photo."})
    assert mine.status_code == 201
    clinic = post(
        client_for(cody),
        url,
        {"title": "Hours", "body": "We answer within one working day.", "clinic_wide": True},
    )
    assert clinic.status_code == 201
    assert (
        post(client_for(team), url, {"title": "x", "body": "y", "clinic_wide": True}).status_code
        == 403
    )
    assert client_for(alice).get(url).status_code == 403
    assert {t["title"] for t in client_for(team).get(url).json()} == {"Photo please", "Hours"}
    assert {t["title"] for t in client_for(dr_ny).get(url).json()} == {"Hours"}
    # The compose box: listed in the picker; ?template= fills the box without script.
    thread = patient_thread(alice)
    page = client_for(team).get(f"/messages/{thread.pk}/").content.decode()
    assert 'data-body="Please send a photo."' in page
    filled = client_for(team).get(f"/messages/{thread.pk}/?template={mine.json()['id']}")
    assert "Please send a photo.</textarea>" in filled.content.decode()
    # Someone else's template does not fill anything.
    other = client_for(dr_ny).get(f"/messages/{thread.pk}/?template={mine.json()['id']}")
    assert other.status_code == 404  # dr_ny may not see alice's thread at all
    retired = post(client_for(team), f"{url}/{mine.json()['id']}/retire", {})
    assert retired.status_code == 200
    assert {t["title"] for t in client_for(team).get(url).json()} == {"Hours"}
    assert post(client_for(dr_ny), f"{url}/{clinic.json()['id']}/retire", {}).status_code == 403
    # The page
    assert client_for(team).get("/messages/templates/").status_code == 200
    assert client_for(alice).get("/messages/templates/").status_code == 403


# --- Pages --------------------------------------------------------------------------------


def test_patient_pages(alice: User, team: User, client_for: ClientFor) -> None:
    client = client_for(alice)
    assert client.get("/messages/new/").status_code == 200
    response = client.post(
        "/messages/new/",
        {"subject": "Side effects", "body": "I feel dizzy", "idempotency_key": "p1"},
    )
    assert response.status_code == 302
    thread = Thread.objects.get(subject="Side effects")
    assert response["Location"] == f"/messages/{thread.pk}/"
    again = client.post(
        "/messages/new/",
        {"subject": "Side effects", "body": "I feel dizzy", "idempotency_key": "p1"},
    )
    assert again["Location"] == f"/messages/{thread.pk}/"
    assert Thread.objects.filter(subject="Side effects").count() == 1
    page = client.get(f"/messages/{thread.pk}/").content.decode()
    assert "I feel dizzy" in page
    assert 'data-message-list data-thread-id="' in page
    assert "js/messaging/thread.js" in page
    assert "<script>" not in page
    assert "style=" not in page
    sent = client.post(f"/messages/{thread.pk}/", {"body": "Also nausea", "idempotency_key": "p2"})
    assert sent.status_code == 302
    client.post(f"/messages/{thread.pk}/", {"body": "Also nausea", "idempotency_key": "p2"})
    assert Message.objects.filter(thread=thread).count() == 2
    assert client.post(f"/messages/{thread.pk}/", {"body": ""}).status_code == 400
    assert ("/messages/", "Messages") in client.get("/messages/").context["nav_links"]


def test_staff_start_a_thread_from_the_page(
    alice: User, team: User, dr_ny: User, client_for: ClientFor
) -> None:
    client = client_for(team)
    form = client.get(f"/messages/new/?patient={alice.pk}")
    assert form.status_code == 200
    response = client.post(
        "/messages/new/",
        {
            "patient": alice.pk,
            "kind": "clinician",
            "participants": [dr_ny.pk],
            "subject": "Curbside",
            "body": "Thoughts on this rash?",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    thread = Thread.objects.get(subject="Curbside")
    assert thread.kind == ThreadKind.CLINICIAN
    assert set(thread.participants.values_list("user_id", flat=True)) == {team.pk, dr_ny.pk}
    # A patient the doctor has no relationship with is not offered and is refused.
    refused = client_for(dr_ny).post(
        "/messages/new/",
        {"patient": alice.pk, "kind": "patient", "subject": "x", "body": "y"},
    )
    assert refused.status_code == 200
    assert Thread.objects.count() == 1


def test_staff_add_a_colleague(alice: User, team: User, dr_ny: User, client_for: ClientFor) -> None:
    thread = patient_thread(alice)
    url = f"{API}/threads/{thread.pk}/participants"
    assert post(client_for(alice), url, {"user_id": dr_ny.pk}).status_code == 403
    assert post(client_for(team), url, {"user_id": alice.pk}).status_code == 400
    added = post(client_for(team), url, {"user_id": dr_ny.pk})
    assert added.status_code == 201
    assert client_for(dr_ny).get(f"{API}/threads/{thread.pk}").status_code == 200


def test_system_message_reaches_the_patient_without_a_work_item(alice: User, team: User) -> None:
    from carepath.messaging.actions import do_send_system_message

    first = do_send_system_message(
        alice, subject="Monitoring", body="Your blood pressure was high."
    )
    second = do_send_system_message(alice, subject="Monitoring", body="Please recheck it.")
    assert first.thread_id == second.thread_id
    assert first.author is None
    assert not WorkItem.objects.filter(subject_type="message_thread").exists()
    assert Participant.objects.filter(thread_id=first.thread_id, user=alice).exists()
