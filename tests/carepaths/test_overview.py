import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.template import Context, Template
from django.test import Client

from carepath.access.actions import do_add_care_relationship
from carepath.accounts.models import User
from carepath.care.models import Encounter, Episode
from carepath.care.summary import registered_summary_sections
from carepath.care.timeline import registered_sources
from carepath.carepaths.selectors import path_position
from carepath.core import clock
from tests.carepaths.conftest import Emit, open_episode

START = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
API = "/api/v1/care-paths/episodes"


@pytest.fixture
def two_episodes(paths: Any, alice: User, bob: User, dr_tex: User, emit: Emit) -> list[Episode]:
    """Alice's dermatology episode in online review since START; bob's UTI prescribed."""
    clock.freeze(START)
    derm = open_episode(alice, "dermatology", dr_tex)
    emit(derm, "case.submitted", alice)
    uti = open_episode(bob, "uti")
    emit(uti, "case.submitted", bob)
    emit(uti, "prescription.signed", dr_tex)
    return [derm, uti]


def ids(response: Any) -> set[int]:
    return {row["episode_id"] for row in response.json()["episodes"]}


def test_stuck_when_longer_in_step_than_expected(
    two_episodes: list[Episode], cody: User, client_for: Callable[..., Client]
) -> None:
    derm, uti = two_episodes
    coordinator = client_for(cody)
    assert ids(coordinator.get(f"{API}?stuck=true")) == set()
    clock.advance(dt.timedelta(hours=25))  # online review expects 24 h; check-in 3 days + 4
    coordinator = client_for(cody)  # a new session: the old one idled out over the day
    body = coordinator.get(f"{API}?stuck=true").json()
    assert ids_of(body) == {derm.pk}
    row = body["episodes"][0]
    assert row["step"] == "async_review"
    assert row["hours_in_step"] == 25
    assert row["stuck"]
    assert row["clinician"] == dr_name(derm)
    counts = {(c["service_line"], c["step"]): c for c in body["counts_per_step"]}
    assert counts[("dermatology", "async_review")]["stuck"] == 1
    assert counts[("uti", "check_in")]["count"] == 1
    assert counts[("uti", "check_in")]["stuck"] == 0
    assert ids(coordinator.get(f"{API}?service_line=uti")) == {uti.pk}
    assert ids(coordinator.get(f"{API}?step=check_in")) == {uti.pk}
    page = coordinator.get("/care-paths/?stuck=on")
    assert page.status_code == 200
    text = page.content.decode()
    assert f'data-episode-id="{derm.pk}" data-stuck="1"' in text
    assert f'data-episode-id="{uti.pk}"' not in text
    assert "STUCK" in text
    everyone = coordinator.get("/care-paths/").content.decode()
    assert f'data-episode-id="{uti.pk}"' in everyone


def ids_of(body: dict[str, Any]) -> set[int]:
    return {row["episode_id"] for row in body["episodes"]}


def dr_name(episode: Episode) -> str:
    encounter = Encounter.objects.filter(episode=episode, clinician__isnull=False).first()
    assert encounter is not None
    assert encounter.clinician is not None
    return encounter.clinician.display_name


def test_who_sees_which_episodes(
    two_episodes: list[Episode],
    alice: User,
    bob: User,
    dr_tex: User,
    dr_ny: User,
    faye: User,
    ada: User,
    client_for: Callable[..., Client],
) -> None:
    derm, uti = two_episodes
    assert ids(client_for(ada).get(API)) == {derm.pk, uti.pk}
    assert ids(client_for(alice).get(API)) == {derm.pk}
    assert ids(client_for(bob).get(API)) == {uti.pk}
    assert client_for(alice).get(API).json()["counts_per_step"] == []
    # Clinicians see their own patients only: a care relationship, not a role.
    assert ids(client_for(dr_tex).get(API)) == set()
    assert ids(client_for(faye).get(API)) == set()
    do_add_care_relationship(dr_tex, alice.pk)
    assert ids(client_for(dr_tex).get(API)) == {derm.pk}
    assert ids(client_for(dr_ny).get(API)) == set()
    assert client_for(dr_tex).get(f"{API}/{derm.pk}").status_code == 200
    assert client_for(dr_tex).get(f"{API}/{uti.pk}").status_code == 404
    assert client_for(dr_ny).get(f"/care-paths/episodes/{derm.pk}/").status_code == 404
    assert client_for(bob).get(f"{API}/{derm.pk}").status_code == 404
    assert client_for(bob).get(f"/care-paths/episodes/{derm.pk}/").status_code == 404
    for user in (alice, dr_tex, faye):
        assert client_for(user).get("/care-paths/").status_code == 403


def test_patient_reads_the_step_in_plain_words(
    two_episodes: list[Episode], alice: User, bob: User, client_for: Callable[..., Client]
) -> None:
    derm, uti = two_episodes
    own = client_for(alice).get(f"{API}/{derm.pk}").json()
    assert own["plain_words"] == "A clinician is reviewing your answers and photos."
    assert [t["outcome"] for t in own["transitions"]] == ["started"]
    page = client_for(bob).get(f"/care-paths/episodes/{uti.pk}/")
    assert page.status_code == 200
    assert b"We will send you a short check-in questionnaire" in page.content
    assert b"Transitions" not in page.content  # the staff history is not on the patient page


def test_coordinator_episode_page_lists_transitions(
    two_episodes: list[Episode], cody: User, client_for: Callable[..., Client]
) -> None:
    _derm, uti = two_episodes
    page = client_for(cody).get(f"/care-paths/episodes/{uti.pk}/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "prescription.signed" in text
    assert "Check-in at 3 days" in text
    detail = client_for(cody).get(f"{API}/{uti.pk}").json()
    assert [t["to_step"] for t in detail["transitions"]] == ["async_review", "check_in"]
    assert detail["next_check_in"] is not None


def test_timeline_source_and_summary_section(
    two_episodes: list[Episode], bob: User, cody: User
) -> None:
    _derm, uti = two_episodes
    source = registered_sources()["carepaths"]
    staff_entries = list(source(cody, [uti.pk]))
    kinds = [entry.kind for entry in staff_entries]
    assert kinds.count("carepath.step") == 2
    assert "checkin.scheduled" in kinds
    patient_entries = list(source(bob, [uti.pk]))
    assert all("Care path:" not in entry.title for entry in patient_entries)
    assert all(entry.url == "" for entry in patient_entries if entry.kind == "carepath.step")
    follow_up = registered_summary_sections()["follow_up"]
    encounter = Encounter.objects.filter(episode=uti).first()
    assert encounter is not None
    assert follow_up(encounter) == [
        "We will send you a short check-in questionnaire on 5 November 2026."
    ]


def test_inclusion_tag_shows_the_position(
    two_episodes: list[Episode], alice: User, cody: User
) -> None:
    derm, _uti = two_episodes
    template = Template("{% load carepaths %}{% episode_path episode viewer %}")
    for_patient = template.render(Context({"episode": derm, "viewer": alice}))
    assert "Where you are in your care" in for_patient
    assert "reviewing your answers and photos" in for_patient
    for_staff = template.render(Context({"episode": derm, "viewer": cody}))
    assert "Step: <strong>Online review</strong>" in for_staff
    position = path_position(alice, derm)
    assert position is not None
    assert position.label == "Online review"
