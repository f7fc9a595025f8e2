"""What tells care apart at a glance: the patient's home (open episodes, a visit they are
being called to, check-ins waiting), "My care" with each episode's own first words, visit count
and latest activity, escalation requests worded by what happened, and a booked visit shown by
its appointment time. Who must not see it: another patient."""

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client

from carepath.accounts.models import User
from carepath.audit.models import AuditEvent
from carepath.care.models import EscalationRequest
from carepath.care.timeline import timeline_for_episode
from carepath.carepaths.models import CheckIn
from carepath.core import clock
from carepath.intake.models import ServiceLine
from tests.care.builders import (
    CHICAGO,
    booked,
    called_now,
    clinician_hours,
    episode_of,
    offered_times,
    submitted_case,
)
from tests.care.conftest import T0

pytestmark = pytest.mark.django_db
ClientFor = Callable[..., Client]


@pytest.fixture(autouse=True)
def frozen() -> Iterator[None]:
    clock.freeze(T0)
    yield
    clock.unfreeze()


def html(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return str(response.content.decode())


def request_entry(viewer: User, case: Any) -> Any:
    entries = timeline_for_episode(viewer, episode_of(case)).entries
    return next(e for e in entries if e.kind == "escalation.requested")


# --- The patient's home -------------------------------------------------------------------


def test_home_shows_the_visit_they_are_called_to_and_open_episodes(
    alice: User,
    bob: User,
    dr_tex: User,
    lines: dict[str, ServiceLine],
    client_for: ClientFor,
) -> None:
    visit = called_now(alice, dr_tex, lines["dermatology"], "Red ring on my left forearm")
    episode = visit.encounter.episode if visit.encounter else None
    assert episode is not None
    page = html(client_for(alice), "/patient/")
    assert 'id="nothing-open"' not in page
    assert f'href="/visits/{visit.pk}/wait/"' in page
    assert "A clinician is ready to see you" in page
    assert f'href="/episodes/{episode.pk}/"' in page
    assert "Red ring on my left forearm" in page
    assert "asked to see you by video now" in page
    assert 'href="/episodes/"' in page
    for object_type, object_id in (("episode", episode.pk), ("visit", visit.pk)):
        assert AuditEvent.objects.filter(
            actor_id=alice.pk,
            action=f"{object_type}.list",
            object_id=str(object_id),
            patient_id=alice.pk,
        ).exists()
    # Someone else's care never shows on another patient's home.
    other = html(client_for(bob), "/patient/")
    assert 'id="nothing-open"' in other
    assert f"/visits/{visit.pk}/" not in other
    assert "Red ring" not in other


def test_home_keeps_the_empty_state_when_nothing_is_open(
    alice: User, client_for: ClientFor
) -> None:
    page = html(client_for(alice), "/patient/")
    assert "You have no open visits" in page
    assert 'id="open-episodes"' not in page
    assert 'href="/episodes/"' in page


def test_home_lists_a_sent_check_in_until_it_is_answered(
    alice: User,
    bob: User,
    dr_tex: User,
    lines: dict[str, ServiceLine],
    client_for: ClientFor,
) -> None:
    line = lines["dermatology"]
    episode = episode_of(submitted_case(alice, dr_tex, line, "Dry patches"))
    check_in = CheckIn.objects.create(
        episode=episode, questionnaire=line.questionnaire, due_at=T0, sent_at=T0
    )
    other_episode = episode_of(submitted_case(alice, dr_tex, line, "Cracked heels"))
    not_sent = CheckIn.objects.create(
        episode=other_episode,
        questionnaire=line.questionnaire,
        due_at=T0 + dt.timedelta(days=14),
    )
    page = html(client_for(alice), "/patient/")
    assert f'href="/care-paths/check-ins/{check_in.pk}/"' in page
    assert f"/care-paths/check-ins/{not_sent.pk}/" not in page
    assert AuditEvent.objects.filter(
        actor_id=alice.pk, action="check_in.list", object_id=str(check_in.pk)
    ).exists()
    assert f"/care-paths/check-ins/{check_in.pk}/" not in html(client_for(bob), "/patient/")
    check_in.answered_at = T0 + dt.timedelta(hours=1)
    check_in.save(update_fields=["answered_at"])
    assert f"/care-paths/check-ins/{check_in.pk}/" not in html(client_for(alice), "/patient/")


# --- Escalation requests, worded by what happened -----------------------------------------


def test_a_visit_now_reads_as_being_asked_to_see_you_now(
    alice: User, dr_tex: User, lines: dict[str, ServiceLine]
) -> None:
    visit = called_now(alice, dr_tex, lines["dermatology"], "Spreading rash")
    assert visit.encounter is not None
    case = visit.encounter.escalated_from.case if visit.encounter.escalated_from else None
    patient = request_entry(alice, case)
    assert patient.title.endswith("asked to see you by video now")
    assert "scheduled" not in patient.detail.lower()
    staff = request_entry(dr_tex, case)
    assert staff.title.endswith("asked to see the patient by video now")
    assert "(scheduled)" not in staff.detail


def test_offered_times_then_booked_for_a_time_in_the_viewers_zone(
    alice: User, dr_tex: User, lines: dict[str, ServiceLine]
) -> None:
    line = lines["dermatology"]
    clinician_hours(dr_tex, line)
    case = offered_times(alice, dr_tex, line, "Mole changed colour")
    request = EscalationRequest.objects.get(encounter_id=case.encounter_id or 0)
    offered = request_entry(alice, case)
    assert offered.title.endswith("offered times for a video visit")
    assert offered.url == f"/patient/appointments/book/?escalation={request.pk}"
    assert "Booked" not in offered.detail

    booked(alice, dr_tex, case, dt.datetime(2026, 11, 4, 10, 30, tzinfo=CHICAGO))
    patient = request_entry(alice, case)
    assert patient.title.endswith("offered times for a video visit")
    assert patient.detail == "Booked for Wed 4 Nov 2026, 10:30 CST."
    assert patient.url == ""
    # Staff (dr_tex, in Chicago) keep the clinician's reason beside the booked time.
    staff = request_entry(dr_tex, case)
    assert "Needs a closer look." in staff.detail
    assert "Booked for Wed 4 Nov 2026, 10:30 CST." in staff.detail
    assert "(scheduled)" not in staff.detail


# --- My care: episodes told apart ----------------------------------------------------------


def test_my_care_tells_episodes_of_one_service_line_apart(
    alice: User,
    bob: User,
    dr_tex: User,
    lines: dict[str, ServiceLine],
    client_for: ClientFor,
) -> None:
    line = lines["dermatology"]
    first = episode_of(submitted_case(alice, dr_tex, line, "Flaky scalp behind the ears"))
    clock.advance(dt.timedelta(hours=2))
    long_words = "Itchy blisters on both hands since I changed soap " * 5
    called_now(alice, dr_tex, line, long_words)
    page = html(client_for(alice), "/episodes/")
    assert "Flaky scalp behind the ears" in page
    assert "Itchy blisters on both hands" in page
    assert long_words.strip() not in page  # clipped
    assert "2 visits" in page  # the online visit and the video visit it escalated to
    assert "1 visit<" in page or "1 visit\n" in page
    assert "Latest: " in page
    assert "asked to see you by video now" in page
    # Newest first.
    assert page.index("Itchy blisters") < page.index("Flaky scalp")
    assert f'data-episode-id="{first.pk}"' in page
    assert "Flaky scalp" not in html(client_for(bob), "/episodes/")


def test_staff_timeline_page_shows_the_same_cards(
    alice: User, dr_tex: User, lines: dict[str, ServiceLine], client_for: ClientFor
) -> None:
    submitted_case(alice, dr_tex, lines["dermatology"], "Warts on two fingers")
    page = html(client_for(dr_tex), f"/episodes/patients/{alice.pk}/")
    assert "Warts on two fingers" in page
    assert "Latest: " in page


# --- The episode page: a booked visit shows its appointment time ---------------------------


def test_booked_visit_shows_the_appointment_start_in_the_viewers_zone(
    alice: User,
    bob: User,
    dr_tex: User,
    lines: dict[str, ServiceLine],
    client_for: ClientFor,
) -> None:
    line = lines["dermatology"]
    clinician_hours(dr_tex, line)
    case = offered_times(alice, dr_tex, line, "Mole changed colour")
    appointment = booked(alice, dr_tex, case, dt.datetime(2026, 11, 4, 10, 30, tzinfo=CHICAGO))
    assert appointment.encounter is not None
    page = html(client_for(alice), f"/episodes/{episode_of(case).pk}/")
    row = page.split(f'data-encounter-id="{appointment.encounter.pk}"')[1].split("</li>")[0]
    assert "Planned" in row
    assert "booked for" in row
    assert "Wed 4 Nov 2026, 10:30 CST" in row
    assert 'datetime="2026-11-04T10:30:00-06:00"' in row
    # A viewer in another zone sees the same moment in theirs.
    alice.time_zone = "America/New_York"
    alice.save(update_fields=["time_zone"])
    page = html(client_for(alice), f"/episodes/{episode_of(case).pk}/")
    assert "Wed 4 Nov 2026, 11:30 EST" in page
    assert client_for(bob).get(f"/episodes/{episode_of(case).pk}/").status_code == 404
