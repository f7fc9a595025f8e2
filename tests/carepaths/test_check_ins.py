import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail
from django.test import Client

from carepath.accounts.models import User
from carepath.care.models import Episode, EpisodeStatus, EscalationRequest
from carepath.carepaths.models import CheckIn, EpisodePath, PathTransition
from carepath.carepaths.tasks import deliver_due_check_ins
from carepath.core import clock
from carepath.notifications.models import Notification
from carepath.workqueue.actions import do_claim, do_release
from carepath.workqueue.models import WorkItem, WorkItemKind, WorkItemStatus
from carepath.workqueue.registry import subject_url
from carepath.workqueue.selectors import eligible_items_for
from carepath.workqueue.tasks import check_sla_breaches
from tests.carepaths.conftest import Emit

START = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC)
API = "/api/v1/care-paths/check-ins"
GOOD = {"progress": "better", "using-treatment": "yes", "side-effects": False, "spreading": False}


@pytest.fixture
def prescribed(derm_episode: Episode, emit: Emit, alice: User, dr_tex: User) -> Episode:
    """A dermatology episode that reached the 14-day check-in step at START."""
    clock.freeze(START)
    emit(derm_episode, "case.submitted", alice)
    emit(derm_episode, "case.escalated", dr_tex)
    emit(derm_episode, "note.signed", dr_tex)
    emit(derm_episode, "prescription.signed", dr_tex, prescription_id=1)
    return derm_episode


@pytest.fixture
def sent(prescribed: Episode, django_capture_on_commit_callbacks: Any) -> CheckIn:
    clock.advance(dt.timedelta(days=14))
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver_due_check_ins() == 1
    return CheckIn.objects.get(episode=prescribed)


def answer(client: Client, check_in: CheckIn, answers: dict[str, Any], capture: Any) -> Any:
    with capture(execute=True):
        return client.post(
            f"{API}/{check_in.pk}/answers", {"answers": answers}, content_type="application/json"
        )


def test_the_14_day_check_in_is_delivered_once_through_the_clock_seam(
    prescribed: Episode, alice: User, django_capture_on_commit_callbacks: Any
) -> None:
    check_in = CheckIn.objects.get(episode=prescribed)
    assert check_in.due_at == START + dt.timedelta(days=14)
    clock.advance(dt.timedelta(days=13, hours=23))
    assert deliver_due_check_ins() == 0
    clock.advance(dt.timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver_due_check_ins() == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver_due_check_ins() == 0
        check_sla_breaches.call()  # the periodic tick runs the same sweep: nothing new
    check_in.refresh_from_db()
    assert check_in.sent_at == START + dt.timedelta(days=14)
    notice = Notification.objects.get(user=alice, kind="check_in")
    assert notice.url == f"/care-paths/check-ins/{check_in.pk}/"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [alice.email]
    assert "rash" not in mail.outbox[0].body.lower()  # no health information in e-mail
    assert (
        PathTransition.objects.filter(path__episode=prescribed, event="checkin.sent").count() == 1
    )


def test_the_periodic_tick_delivers_due_check_ins(
    prescribed: Episode, django_capture_on_commit_callbacks: Any
) -> None:
    clock.advance(dt.timedelta(days=15))
    with django_capture_on_commit_callbacks(execute=True):
        check_sla_breaches.call()
    assert CheckIn.objects.get(episode=prescribed).sent_at is not None


def test_answering_puts_a_check_in_item_on_the_queue_for_the_last_clinician(
    sent: CheckIn,
    alice: User,
    dr_tex: User,
    dr_ny: User,
    client_for: Callable[..., Client],
    django_capture_on_commit_callbacks: Any,
) -> None:
    patient = client_for(alice)
    shown = patient.get(f"{API}/{sent.pk}").json()
    assert shown["status"] == "sent"
    assert shown["questionnaire"]["code"] == "dermatology-check-in"
    assert shown["work_item_id"] is None
    refused = answer(patient, sent, {"progress": "better"}, django_capture_on_commit_callbacks)
    assert refused.status_code == 422
    fields = {f["field"] for f in refused.json()["error"]["fields"]}
    assert {"using-treatment", "side-effects", "spreading"} <= fields
    response = answer(patient, sent, GOOD, django_capture_on_commit_callbacks)
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "answered"
    sent.refresh_from_db()
    assert sent.work_item is not None
    item = sent.work_item
    assert item.kind == WorkItemKind.CHECK_IN
    assert (item.subject_type, item.subject_id) == ("carepaths.checkin", str(sent.pk))
    assert item.due_at == clock.now() + dt.timedelta(minutes=1440)
    assert item.required_state == "TX"
    assert item.required_specialty is not None
    assert item.required_specialty.code == "dermatology"
    assert item.reassigned_to == dr_tex  # the clinician who last saw alice
    assert subject_url(item) == f"/care-paths/check-ins/{sent.pk}/review/"
    assert item in eligible_items_for(dr_tex)
    assert item not in eligible_items_for(dr_ny)
    assert EpisodePath.objects.get(episode=sent.episode).current_step == "check_in_review"
    again = answer(patient, sent, GOOD, django_capture_on_commit_callbacks)
    assert again.status_code == 409
    assert WorkItem.objects.filter(kind=WorkItemKind.CHECK_IN).count() == 1


def test_nobody_else_sees_or_answers_a_patients_check_in(
    sent: CheckIn,
    bob: User,
    dr_tex: User,
    cody: User,
    client_for: Callable[..., Client],
    django_capture_on_commit_callbacks: Any,
) -> None:
    assert client_for(bob).get(f"{API}/{sent.pk}").status_code == 404
    assert (
        answer(client_for(bob), sent, GOOD, django_capture_on_commit_callbacks).status_code == 404
    )
    assert client_for(bob).get(f"/care-paths/check-ins/{sent.pk}/").status_code == 404
    assert client_for(bob).get(API).json() == []
    # Staff without a care relationship: 404; other roles may not answer at all.
    assert client_for(dr_tex).get(f"{API}/{sent.pk}").status_code == 404
    assert client_for(cody).get(f"{API}/{sent.pk}").status_code == 404
    assert (
        answer(client_for(dr_tex), sent, GOOD, django_capture_on_commit_callbacks).status_code
        == 403
    )


def test_a_check_in_not_yet_sent_is_not_there_for_the_patient(
    prescribed: Episode, alice: User, client_for: Callable[..., Client]
) -> None:
    check_in = CheckIn.objects.get(episode=prescribed)
    assert client_for(alice).get(f"{API}/{check_in.pk}").status_code == 404
    assert client_for(alice).get(f"/care-paths/check-ins/{check_in.pk}/").status_code == 404


def test_answer_page_shows_field_errors_and_keeps_the_draft(
    sent: CheckIn,
    alice: User,
    client_for: Callable[..., Client],
    django_capture_on_commit_callbacks: Any,
) -> None:
    page = f"/care-paths/check-ins/{sent.pk}/"
    patient = client_for(alice)
    form = patient.get(page)
    assert form.status_code == 200
    assert b"Compared with before treatment" in form.content
    with django_capture_on_commit_callbacks(execute=True):
        partial = patient.post(page, {"progress": "worse", "side-effects": "yes"})
    assert partial.status_code == 400
    text = partial.content.decode()
    assert "This question is required." in text
    sent.refresh_from_db()
    assert sent.answers == {"progress": "worse", "side-effects": True}  # the draft is kept
    assert sent.answered_at is None
    autosaved = patient.post(f"{page}draft/", {"progress": "same"})
    assert autosaved.status_code == 200
    assert autosaved.json()["saved_at"]
    with django_capture_on_commit_callbacks(execute=True):
        done = patient.post(
            page,
            {
                "progress": "worse",
                "using-treatment": "yes",
                "side-effects": "yes",
                "side-effects-detail": "Dry skin",
                "spreading": "no",
            },
        )
    assert done.status_code == 302
    sent.refresh_from_db()
    assert sent.answered_at is not None
    assert sent.answers["side-effects-detail"] == "Dry skin"
    assert WorkItem.objects.filter(subject_id=str(sent.pk), kind=WorkItemKind.CHECK_IN).exists()
    assert b"Dry skin" in patient.get(page).content
    assert f'data-check-in-id="{sent.pk}"'.encode() in patient.get("/care-paths/check-ins/").content


def test_review_completes_the_item_and_closes_the_path(
    sent: CheckIn,
    alice: User,
    dr_tex: User,
    dr_ny: User,
    client_for: Callable[..., Client],
    django_capture_on_commit_callbacks: Any,
) -> None:
    answer(client_for(alice), sent, GOOD, django_capture_on_commit_callbacks)
    sent.refresh_from_db()
    page = f"/care-paths/check-ins/{sent.pk}/review/"
    assert client_for(dr_ny).get(page).status_code == 404
    assert client_for(alice).get(page).status_code == 403
    assert sent.work_item_id is not None
    do_claim(dr_tex, sent.work_item_id)
    doctor = client_for(dr_tex)
    shown = doctor.get(page)
    assert shown.status_code == 200
    assert b"Mark reviewed" in shown.content
    with django_capture_on_commit_callbacks(execute=True):
        done = doctor.post(page, {})
    assert done.status_code == 302
    sent.refresh_from_db()
    assert sent.reviewed_at is not None
    assert sent.reviewed_by == dr_tex
    assert WorkItem.objects.get(pk=sent.work_item_id).status == WorkItemStatus.DONE
    path = EpisodePath.objects.get(episode=sent.episode)
    assert path.current_step == "closed"
    assert Episode.objects.get(pk=sent.episode_id).status == EpisodeStatus.CLOSED
    with django_capture_on_commit_callbacks(execute=True):
        twice = doctor.post(page, {})
    assert twice.status_code == 400
    assert b"already reviewed" in twice.content
    assert PathTransition.objects.filter(path=path, event="checkin.reviewed").count() == 1


def test_needs_a_visit_requests_an_escalation_and_keeps_the_episode_open(
    sent: CheckIn,
    alice: User,
    dr_tex: User,
    client_for: Callable[..., Client],
    django_capture_on_commit_callbacks: Any,
) -> None:
    answer(client_for(alice), sent, GOOD, django_capture_on_commit_callbacks)
    sent.refresh_from_db()
    assert sent.work_item_id is not None
    doctor = client_for(dr_tex)
    url = f"{API}/{sent.pk}/review"
    assert (
        doctor.post(url, {"needs_visit": True}, content_type="application/json").status_code == 404
    )
    do_claim(dr_tex, sent.work_item_id)
    missing = doctor.post(url, {"needs_visit": True}, content_type="application/json")
    assert missing.status_code == 422
    assert missing.json()["error"]["code"] == "reason_required"
    with django_capture_on_commit_callbacks(execute=True):
        response = doctor.post(
            url,
            {"needs_visit": True, "reason": "Spreading despite treatment"},
            content_type="application/json",
        )
    assert response.status_code == 200, response.content
    assert response.json()["needs_visit"] is True
    assert EscalationRequest.objects.filter(
        encounter__episode=sent.episode, reason="Spreading despite treatment"
    ).exists()
    assert EpisodePath.objects.get(episode=sent.episode).current_step == "live_visit"
    assert Episode.objects.get(pk=sent.episode_id).status == EpisodeStatus.OPEN


def test_only_the_holder_reviews(
    sent: CheckIn,
    alice: User,
    dr_tex: User,
    client_for: Callable[..., Client],
    django_capture_on_commit_callbacks: Any,
) -> None:
    answer(client_for(alice), sent, GOOD, django_capture_on_commit_callbacks)
    sent.refresh_from_db()
    assert sent.work_item_id is not None
    do_claim(dr_tex, sent.work_item_id)
    do_release(dr_tex, sent.work_item_id)
    # Released: not the holder, and the access the claim gave has ended.
    response = client_for(dr_tex).post(
        f"{API}/{sent.pk}/review", {}, content_type="application/json"
    )
    assert response.status_code in {404, 409}
    assert CheckIn.objects.get(pk=sent.pk).reviewed_at is None
