"""One pending check-in per episode: entering the check-in step again reschedules it, leaving
the step before it is sent cancels it, the path ending cancels or closes it, and a closed
episode's check-in cannot be answered. Every page shows one check-in, on one local date."""

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.template import Context, Template
from django.test import Client
from django.utils import timezone

from carepath.accounts.models import User
from carepath.audit.models import AuditEvent
from carepath.care.actions import do_close_episode
from carepath.care.models import Encounter, Episode, EpisodeStatus
from carepath.care.summary import registered_summary_sections
from carepath.care.timeline import TimelineEntry, registered_sources
from carepath.carepaths.models import CheckIn, EpisodePath
from carepath.carepaths.tasks import deliver_due_check_ins
from carepath.core import clock
from carepath.workqueue.models import WorkItem, WorkItemKind
from tests.carepaths.conftest import Emit

# 03:00 UTC: the evening before in alice's zone (America/Chicago), so a UTC date would differ.
START = dt.datetime(2026, 11, 24, 3, 0, tzinfo=dt.UTC)
API = "/api/v1/care-paths/check-ins"
GOOD = {"progress": "better", "using-treatment": "yes", "side-effects": False, "spreading": False}


def pending(episode: Episode) -> list[CheckIn]:
    return list(
        CheckIn.objects.filter(
            episode=episode,
            answered_at__isnull=True,
            cancelled_at__isnull=True,
            closed_at__isnull=True,
        )
    )


def entries(viewer: User, episode: Episode, kind: str) -> list[TimelineEntry]:
    source = registered_sources()["carepaths"]
    return [entry for entry in source(viewer, [episode.pk]) if entry.kind == kind]


def follow_up(episode: Episode) -> list[str]:
    encounter = Encounter.objects.filter(episode=episode).first()
    assert encounter is not None
    return registered_summary_sections()["follow_up"](encounter)


@pytest.fixture
def bounced(derm_episode: Episode, emit: Emit, alice: User, dr_tex: User) -> Episode:
    """The walk-through: online review -> check-in (prescription signed) -> live visit
    (escalated) -> check-in again (the visit ended), all before the check-in was due."""
    clock.freeze(START)
    emit(derm_episode, "case.submitted", alice)
    emit(derm_episode, "prescription.signed", dr_tex, prescription_id=1)
    clock.advance(dt.timedelta(days=1))
    emit(derm_episode, "case.escalated", dr_tex, case_id=1)
    clock.advance(dt.timedelta(hours=2))
    emit(derm_episode, "visit.ended", dr_tex, visit_id=1)
    return derm_episode


def test_leaving_and_entering_the_check_in_step_leaves_one_check_in(
    bounced: Episode,
    alice: User,
    dr_tex: User,
    cody: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    assert EpisodePath.objects.get(episode=bounced).current_step == "check_in"
    [first, second] = CheckIn.objects.filter(episode=bounced).order_by("pk")
    assert first.cancelled_at == START + dt.timedelta(days=1)  # left the step: cancelled
    assert pending(bounced) == [second]
    assert second.due_at == START + dt.timedelta(days=15, hours=2)
    # One line in the after-visit summary, one planned check-in on the patient's timeline.
    assert follow_up(bounced) == [
        "We will send you a short check-in questionnaire on 8 December 2026."
    ]
    planned = entries(alice, bounced, "checkin.scheduled")
    assert [entry.title for entry in planned] == ["Check-in planned for 8 December 2026"]
    assert entries(alice, bounced, "checkin.cancelled") == []
    assert len(entries(cody, bounced, "checkin.cancelled")) == 1  # staff keep the history
    # Fourteen days on: one check-in goes out.
    clock.advance(dt.timedelta(days=15))
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver_due_check_ins() == 1
        assert deliver_due_check_ins() == 0
    assert len(entries(alice, bounced, "checkin.sent")) == 1


def test_entering_the_step_again_reschedules_the_pending_check_in(
    derm_episode: Episode, emit: Emit, alice: User, dr_tex: User
) -> None:
    clock.freeze(START)
    emit(derm_episode, "case.submitted", alice)
    emit(derm_episode, "case.answered", dr_tex, case_id=1)
    [check_in] = CheckIn.objects.filter(episode=derm_episode)
    clock.advance(dt.timedelta(days=3))
    emit(derm_episode, "prescription.signed", dr_tex, prescription_id=2)
    check_in.refresh_from_db()
    assert CheckIn.objects.filter(episode=derm_episode).count() == 1
    assert check_in.due_at == START + dt.timedelta(days=17)
    assert AuditEvent.objects.filter(action="check_in.reschedule", object_id=str(check_in.pk))
    # The patient's timeline does not repeat the step; the one check-in shows the new date.
    steps = entries(alice, derm_episode, "carepath.step")
    assert len(steps) == 2  # online review, check-in
    assert [e.title for e in entries(alice, derm_episode, "checkin.scheduled")] == [
        "Check-in planned for 10 December 2026"
    ]


def test_a_sent_check_in_waiting_for_answers_is_not_sent_twice(
    derm_episode: Episode,
    emit: Emit,
    alice: User,
    dr_tex: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    clock.freeze(START)
    emit(derm_episode, "case.submitted", alice)
    emit(derm_episode, "prescription.signed", dr_tex)
    clock.advance(dt.timedelta(days=14))
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver_due_check_ins() == 1
    emit(derm_episode, "case.escalated", dr_tex)  # leaving after it was sent: it stays
    emit(derm_episode, "visit.ended", dr_tex)  # back in the check-in step
    [check_in] = CheckIn.objects.filter(episode=derm_episode)
    assert check_in.is_pending
    assert check_in.sent_at is not None
    clock.advance(dt.timedelta(days=30))
    assert deliver_due_check_ins() == 0
    assert follow_up(derm_episode) == [
        "Please answer the short check-in questionnaire we sent you on 7 December 2026."
    ]


def test_the_database_refuses_a_second_pending_check_in(bounced: Episode) -> None:
    [check_in] = pending(bounced)
    with pytest.raises(IntegrityError), transaction.atomic():
        CheckIn.objects.create(
            episode=bounced, questionnaire=check_in.questionnaire, due_at=clock.now()
        )


@pytest.fixture
def closed_with_a_sent_check_in(
    derm_episode: Episode,
    emit: Emit,
    alice: User,
    dr_tex: User,
    django_capture_on_commit_callbacks: Any,
) -> CheckIn:
    clock.freeze(START)
    emit(derm_episode, "case.submitted", alice)
    emit(derm_episode, "prescription.signed", dr_tex)
    clock.advance(dt.timedelta(days=14))
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver_due_check_ins() == 1
    emit(derm_episode, "case.escalated", dr_tex)
    emit(derm_episode, "case.closed", dr_tex)  # live visit -> closed: the path ends
    return CheckIn.objects.get(episode=derm_episode)


def test_closing_the_episode_closes_the_unanswered_check_in(
    closed_with_a_sent_check_in: CheckIn,
    alice: User,
    client_for: Callable[..., Client],
    django_capture_on_commit_callbacks: Any,
) -> None:
    check_in = closed_with_a_sent_check_in
    assert Episode.objects.get(pk=check_in.episode_id).status == EpisodeStatus.CLOSED
    assert check_in.closed_at is not None
    assert check_in.status == "closed"
    patient = client_for(alice)
    listed = patient.get("/care-paths/check-ins/").content.decode()
    assert "waiting for your answers" not in listed
    assert "closed: no longer needed" in listed
    # Answering is refused with the reason, and nothing reaches the queue.
    with django_capture_on_commit_callbacks(execute=True):
        refused = patient.post(
            f"{API}/{check_in.pk}/answers", {"answers": GOOD}, content_type="application/json"
        )
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "episode_closed"
    assert "episode of care is closed" in refused.json()["error"]["message"]
    draft = patient.put(
        f"{API}/{check_in.pk}/draft", {"answers": GOOD}, content_type="application/json"
    )
    assert draft.status_code == 409
    page = patient.get(f"/care-paths/check-ins/{check_in.pk}/")
    assert page.status_code == 200
    assert b"episode of care is closed" in page.content
    assert b"send-check-in" not in page.content  # no form
    posted = patient.post(f"/care-paths/check-ins/{check_in.pk}/", {"progress": "better"})
    assert posted.status_code == 409
    assert not WorkItem.objects.filter(kind=WorkItemKind.CHECK_IN).exists()
    assert [e.kind for e in entries(alice, check_in.episode, "checkin.closed")] == [
        "checkin.closed"
    ]


def test_closing_the_episode_cancels_a_check_in_not_yet_sent(
    derm_episode: Episode, emit: Emit, alice: User, dr_tex: User
) -> None:
    emit(derm_episode, "case.submitted", alice)
    emit(derm_episode, "case.answered", dr_tex)
    do_close_episode(derm_episode, by=dr_tex)
    emit(derm_episode, "episode.closed", dr_tex)
    [check_in] = CheckIn.objects.filter(episode=derm_episode)
    assert check_in.status == "cancelled"
    assert follow_up(derm_episode) == []


def test_the_check_in_date_is_the_same_local_date_everywhere(
    derm_episode: Episode,
    emit: Emit,
    alice: User,
    dr_tex: User,
    client_for: Callable[..., Client],
) -> None:
    """Due 8 December 03:00 UTC = 7 December in Chicago: no page says 8 December."""
    clock.freeze(START - dt.timedelta(days=1))
    emit(derm_episode, "case.submitted", alice)
    clock.freeze(START)
    emit(derm_episode, "prescription.signed", dr_tex)
    [check_in] = pending(derm_episode)
    assert check_in.due_at == dt.datetime(2026, 12, 8, 3, 0, tzinfo=dt.UTC)
    local = "7 December 2026"
    assert follow_up(derm_episode) == [
        f"We will send you a short check-in questionnaire on {local}."
    ]
    [planned] = entries(alice, derm_episode, "checkin.scheduled")
    assert planned.title == f"Check-in planned for {local}"
    card = client_for(alice).get(f"/care-paths/episodes/{derm_episode.pk}/").content.decode()
    assert f"We will send you a short check-in questionnaire on {local}." in card
    assert "8 December" not in card
    template = Template("{% load carepaths %}{% episode_path episode viewer %}")
    with timezone.override(alice.time_zone):  # as the middleware does for a request
        tag = template.render(Context({"episode": derm_episode, "viewer": alice}))
    assert local in tag
