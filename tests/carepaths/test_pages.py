"""The care-path position as people read it: patients in patient words (never a staff step
name), staff in staff words; the current step highlighted; the check-in sentence true to
where the check-in is; and every page links onward instead of ending in a dead end."""

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.template import Context, Template
from django.test import Client
from django.utils import timezone

from carepath.access.actions import do_add_care_relationship
from carepath.accounts.models import User
from carepath.care.models import Episode
from carepath.carepaths.tasks import deliver_due_check_ins
from carepath.core import clock
from tests.carepaths.conftest import Emit

START = dt.datetime(2026, 11, 2, 15, 0, tzinfo=dt.UTC)
STAFF_STEP_NAMES = ("Waiting for the patient's reply", "Check-in review", "Online review (")


def page(client: Client, episode: Episode) -> str:
    response = client.get(f"/care-paths/episodes/{episode.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def card(episode: Episode, viewer: User) -> str:
    template = Template("{% load carepaths %}{% episode_path episode viewer %}")
    with timezone.override(viewer.time_zone):
        return template.render(Context({"episode": episode, "viewer": viewer}))


@pytest.fixture
def asked(derm_episode: Episode, emit: Emit, alice: User, dr_tex: User) -> Episode:
    """The clinician asked alice a question: the path waits for her reply."""
    clock.freeze(START)
    emit(derm_episode, "case.submitted", alice)
    emit(derm_episode, "case.needs_info", dr_tex)
    return derm_episode


def test_patients_never_read_staff_step_names(
    asked: Episode, alice: User, client_for: Callable[..., Client]
) -> None:
    for text in (page(client_for(alice), asked), card(asked, alice)):
        assert "Your clinician asked you a question: please reply." in text
        for staff_name in STAFF_STEP_NAMES:
            assert staff_name.replace("'", "&#x27;") not in text
            assert staff_name not in text
        assert 'aria-current="step" class="is-current">Your reply' in text
        assert "you are here" in text  # the current step is named, not only marked
    api = client_for(alice).get(f"/api/v1/care-paths/episodes/{asked.pk}").json()
    assert api["plain_words"] == "Your clinician asked you a question: please reply."


def test_the_patient_page_links_back_to_the_episode(
    asked: Episode, alice: User, client_for: Callable[..., Client]
) -> None:
    text = page(client_for(alice), asked)
    assert f'href="/episodes/{asked.pk}/" id="back-to-episode"' in text
    assert "css/carepaths" in text
    assert f"/staff/patients/{alice.pk}/" not in text
    assert "All care paths" not in text


@pytest.fixture
def at_check_in(derm_episode: Episode, emit: Emit, alice: User, dr_tex: User) -> Episode:
    clock.freeze(START)
    emit(derm_episode, "case.submitted", alice)
    emit(derm_episode, "prescription.signed", dr_tex)
    return derm_episode


def test_the_check_in_sentence_follows_the_check_in(
    at_check_in: Episode,
    alice: User,
    cody: User,
    client_for: Callable[..., Client],
    django_capture_on_commit_callbacks: Any,
) -> None:
    before = page(client_for(alice), at_check_in)
    assert "We will send you a short check-in questionnaire on 16 November 2026." in before
    clock.advance(dt.timedelta(days=14))
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver_due_check_ins() == 1
    patient = client_for(alice)  # signed in again: the old session idled out meanwhile
    for text in (page(patient, at_check_in), card(at_check_in, alice)):
        assert "We will send" not in text
        assert "14 days after" not in text
        assert "We sent you a short check-in questionnaire on 16 November 2026." in text
        assert "Answer the check-in" in text
    staff = card(at_check_in, cody)
    assert "Check-in sent 16 Nov 2026" in staff
    assert "the patient has not answered yet" in staff
    for patient_words in ("your check-in", "We sent you", "We will send you", "you are here"):
        assert patient_words not in staff
    assert 'class="current-tag">current step' in staff


def test_staff_read_the_step_not_the_patient_sentence(at_check_in: Episode, cody: User) -> None:
    staff = card(at_check_in, cody)
    assert "Step: <strong>Check-in at 14 days</strong>" in staff
    assert "Check-in due 16 Nov 2026" in staff
    assert "We will send you" not in staff
    assert "Your care team will check in" not in staff


def test_coordinator_without_access_gets_the_overview_link_and_no_dead_links(
    asked: Episode, cody: User, client_for: Callable[..., Client]
) -> None:
    text = page(client_for(cody), asked)
    assert 'href="/care-paths/" id="back-to-overview"' in text
    assert "episode-timeline-link" not in text
    assert f"/staff/patients/{asked.patient_id}/" not in text
    assert "no care relationship with this patient" in text


def test_coordinator_with_access_gets_the_timeline_and_the_patient(
    asked: Episode, alice: User, cody: User, client_for: Callable[..., Client]
) -> None:
    do_add_care_relationship(cody, alice.pk)
    coordinator = client_for(cody)
    text = page(coordinator, asked)
    assert f'href="/episodes/{asked.pk}/" id="episode-timeline-link"' in text
    assert f'href="/staff/patients/{alice.pk}/" id="patient-link"' in text
    assert 'id="back-to-overview"' in text
    # The links lead somewhere.
    assert coordinator.get(f"/episodes/{asked.pk}/").status_code == 200
    assert coordinator.get(f"/staff/patients/{alice.pk}/").status_code == 200


def test_admin_may_break_the_glass_and_clinician_has_no_overview_link(
    asked: Episode, alice: User, ada: User, dr_tex: User, client_for: Callable[..., Client]
) -> None:
    admin = page(client_for(ada), asked)
    assert f'href="/staff/patients/{alice.pk}/break-glass/"' in admin
    do_add_care_relationship(dr_tex, alice.pk)
    clinician = page(client_for(dr_tex), asked)
    assert "back-to-overview" not in clinician
    assert f'href="/episodes/{asked.pk}/" id="episode-timeline-link"' in clinician


def test_definition_page_is_cards_with_a_definition_list_per_step(
    paths: Any, ada: User, client_for: Callable[..., Client]
) -> None:
    text = client_for(ada).get("/care-paths/definitions/dermatology/").content.decode()
    assert '<ol class="step-cards" id="definition-steps">' in text
    assert '<li class="step-card" data-step="waiting_for_patient">' in text
    assert '<dl class="step-facts">' in text
    assert "<table" not in text
    assert "<strong>Your reply</strong>: Your clinician asked you a question" in text
    assert "css/carepaths" in text
