import datetime as dt
from typing import Any

from django.utils import timezone

from carepath.accounts.models import User
from carepath.audit.models import AuditEvent
from carepath.care.actions import do_close_episode, do_open_episode
from carepath.care.models import Episode, EpisodeStatus
from carepath.carepaths.models import CheckIn, EpisodePath, PathStatus, PathTransition
from carepath.core import clock
from tests.carepaths.conftest import Emit, open_episode

START = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


def moves(episode: Episode) -> list[tuple[str, str, str, str]]:
    return list(
        PathTransition.objects.filter(path__episode=episode)
        .order_by("at", "pk")
        .values_list("event", "from_step", "to_step", "outcome")
    )


def step_of(episode: Episode) -> str:
    return EpisodePath.objects.get(episode=episode).current_step


def test_case_submitted_starts_the_path_at_its_start_step(
    derm_episode: Episode, emit: Emit, alice: User
) -> None:
    emit(derm_episode, "case.submitted", alice, case_id=1)
    path = EpisodePath.objects.get(episode=derm_episode)
    assert path.current_step == "async_review"
    assert path.definition.version == 1
    assert path.step_due_at == path.entered_at + dt.timedelta(hours=24)
    assert moves(derm_episode) == [("case.submitted", "", "async_review", "started")]
    audit = AuditEvent.objects.filter(action="care_path.transition", patient_id=alice.pk)
    assert audit.count() == 1


def test_dermatology_live_visit_order_of_events(
    derm_episode: Episode, emit: Emit, alice: User, dr_tex: User
) -> None:
    clock.freeze(START)
    emit(derm_episode, "case.submitted", alice)
    emit(derm_episode, "case.escalated", dr_tex, case_id=1)
    emit(derm_episode, "visit.started", dr_tex, visit_id=7)
    emit(derm_episode, "note.signed", dr_tex, note_id=3)
    emit(derm_episode, "prescription.signed", dr_tex, prescription_id=5)
    emit(derm_episode, "visit.ended", dr_tex, visit_id=7)
    assert moves(derm_episode) == [
        ("case.submitted", "", "async_review", "started"),
        ("case.escalated", "async_review", "live_visit", "moved"),
        ("visit.started", "live_visit", "live_visit", "ignored"),
        ("note.signed", "live_visit", "check_in", "moved"),
        ("prescription.signed", "check_in", "check_in", "moved"),
        ("visit.ended", "check_in", "check_in", "ignored"),
    ]
    check_in = CheckIn.objects.get(episode=derm_episode)  # rescheduled, not a second one
    assert check_in.due_at == START + dt.timedelta(days=14)
    assert check_in.questionnaire.code == "dermatology-check-in"
    assert check_in.sent_at is None


def test_async_answer_then_prescription_and_the_other_way_round(
    paths: Any, emit: Emit, alice: User, dr_tex: User
) -> None:
    clock.freeze(START)
    answered_first = open_episode(alice, "dermatology", dr_tex)
    emit(answered_first, "case.submitted", alice)
    emit(answered_first, "case.answered", dr_tex)
    assert step_of(answered_first) == "check_in"
    clock.advance(dt.timedelta(days=2))
    emit(answered_first, "prescription.signed", dr_tex)
    assert step_of(answered_first) == "check_in"
    # The check-in counts from the treatment now: the same row, a later date.
    check_in = CheckIn.objects.get(episode=answered_first)
    assert check_in.due_at == START + dt.timedelta(days=16)

    prescribed_first = open_episode(alice, "dermatology", dr_tex)
    emit(prescribed_first, "case.submitted", alice)
    emit(prescribed_first, "prescription.signed", dr_tex)
    emit(prescribed_first, "case.answered", dr_tex)
    assert step_of(prescribed_first) == "check_in"
    assert CheckIn.objects.filter(episode=prescribed_first).count() == 1


def test_an_answer_without_a_prescription_goes_to_the_check_in_not_a_waiting_step(
    paths: Any, emit: Emit, alice: User, dr_tex: User
) -> None:
    """Not every answer comes with a prescription: the patient is not left at "preparing
    your treatment" until the episode is flagged stuck."""
    for code in ("dermatology", "uti"):
        episode = open_episode(alice, code, dr_tex)
        emit(episode, "case.submitted", alice)
        emit(episode, "case.answered", dr_tex)
        assert step_of(episode) == "check_in"
        assert CheckIn.objects.filter(episode=episode, sent_at__isnull=True).count() == 1


def test_the_same_event_delivered_twice_changes_nothing_more(
    derm_episode: Episode, emit: Emit, alice: User, dr_tex: User
) -> None:
    emit(derm_episode, "case.submitted", alice, case_id=1)
    emit(derm_episode, "case.submitted", alice, case_id=1)
    emit(derm_episode, "case.answered", dr_tex, case_id=1)
    emit(derm_episode, "prescription.signed", dr_tex, prescription_id=9)
    emit(derm_episode, "prescription.signed", dr_tex, prescription_id=9)
    assert EpisodePath.objects.filter(episode=derm_episode).count() == 1
    assert moves(derm_episode) == [
        ("case.submitted", "", "async_review", "started"),
        ("case.answered", "async_review", "check_in", "moved"),
        ("prescription.signed", "check_in", "check_in", "moved"),
    ]
    assert CheckIn.objects.filter(episode=derm_episode).count() == 1


def test_reaching_the_final_step_closes_the_episode_once(
    derm_episode: Episode, emit: Emit, alice: User, dr_tex: User
) -> None:
    emit(derm_episode, "case.submitted", alice)
    emit(derm_episode, "case.closed", dr_tex, case_id=1)
    derm_episode.refresh_from_db()
    assert derm_episode.status == EpisodeStatus.CLOSED
    path = EpisodePath.objects.get(episode=derm_episode)
    assert path.status == PathStatus.COMPLETED
    assert path.current_step == "closed"
    assert path.step_due_at is None
    # The engine's own episode.closed came back to it and was not recorded again.
    assert moves(derm_episode)[-1] == ("case.closed", "async_review", "closed", "moved")
    assert (
        AuditEvent.objects.filter(action="episode.close", object_id=str(derm_episode.pk)).count()
        == 1
    )
    emit(derm_episode, "case.answered", dr_tex)
    assert len(moves(derm_episode)) == 2


def test_an_episode_closed_elsewhere_ends_its_path_and_cancels_check_ins(
    derm_episode: Episode, emit: Emit, alice: User, dr_tex: User
) -> None:
    emit(derm_episode, "case.submitted", alice)
    emit(derm_episode, "prescription.signed", dr_tex)
    do_close_episode(derm_episode, by=dr_tex)
    emit(derm_episode, "episode.closed", dr_tex)
    path = EpisodePath.objects.get(episode=derm_episode)
    assert path.status == PathStatus.COMPLETED
    assert path.current_step == "check_in"
    assert moves(derm_episode)[-1] == ("episode.closed", "check_in", "check_in", "ended")
    assert CheckIn.objects.get(episode=derm_episode).cancelled_at is not None


def test_episodes_without_a_path_are_left_alone(paths: Any, emit: Emit, alice: User) -> None:
    loose = do_open_episode(alice, title="No service line")
    emit(loose, "case.submitted", alice)
    assert not EpisodePath.objects.filter(episode=loose).exists()


def test_first_event_other_than_submit_starts_and_applies(
    paths: Any, emit: Emit, alice: User, dr_tex: User
) -> None:
    episode = open_episode(alice, "dermatology")
    emit(episode, "visit.scheduled", dr_tex, visit_id=1)
    assert moves(episode) == [
        ("visit.scheduled", "", "async_review", "started"),
        ("visit.scheduled", "async_review", "live_visit", "moved"),
    ]


def test_check_in_review_with_needs_visit_goes_back_to_a_live_visit(
    derm_episode: Episode, emit: Emit, alice: User, dr_tex: User
) -> None:
    emit(derm_episode, "case.submitted", alice)
    emit(derm_episode, "prescription.signed", dr_tex)
    emit(derm_episode, "checkin.answered", alice, check_in_id=1)
    assert step_of(derm_episode) == "check_in_review"
    emit(derm_episode, "checkin.reviewed", dr_tex, check_in_id=1, outcome="needs_visit")
    assert step_of(derm_episode) == "live_visit"
    assert Episode.objects.get(pk=derm_episode.pk).status == EpisodeStatus.OPEN
    assert timezone.is_aware(EpisodePath.objects.get(episode=derm_episode).entered_at)
