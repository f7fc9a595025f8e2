"""The room's note panel once the note is signed (read-only, the time in the viewer's zone,
no draft or sign buttons, amendments only) and the visit-ended page (its wording and the
way on: the episode, the after-visit summary once the note is signed)."""

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from carepath.accounts.models import User
from carepath.core import clock
from carepath.visits import actions
from carepath.visits.models import Visit
from carepath.visits.wording import duration_words
from tests.visits.conftest import make_visit

pytestmark = pytest.mark.django_db

ClientFor = Callable[..., Client]
NOW = dt.datetime(2026, 11, 2, 15, 0, tzinfo=dt.UTC)  # 9:00 AM in Chicago (CST)


def api(client: Client, method: str, path: str, body: Any = None) -> Any:
    call = getattr(client, method)
    return call(f"/api/v1/visits{path}", body or {}, content_type="application/json")


def started_visit(alice: User, dr_tex: User) -> Visit:
    clock.freeze(NOW)
    visit = make_visit(alice, dr_tex)
    patient = actions.do_ensure_participant(visit, alice)
    actions.do_admit(dr_tex, visit.pk, patient.pk)
    return visit


def sign_note(client: Client, visit: Visit) -> None:
    note = {"subjective": "Itch", "objective": "", "assessment": "Eczema", "plan": "Cream"}
    assert api(client, "put", f"/{visit.pk}/note", note).status_code == 200
    assert api(client, "post", f"/{visit.pk}/note/sign").status_code == 200


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (None, ""),
        (0, "under a minute"),
        (59, "under a minute"),
        (60, "1 minute"),
        (89, "1 minute"),
        (1050, "18 minutes"),
    ],
)
def test_duration_words(seconds: int | None, words: str) -> None:
    assert duration_words(seconds) == words


def test_room_before_signing_offers_draft_and_sign(
    alice: User, dr_tex: User, client_for: ClientFor
) -> None:
    visit = started_visit(alice, dr_tex)
    page = client_for(dr_tex).get(f"/visits/{visit.pk}/").content.decode()
    assert '<div class="actions" id="note-actions">' in page
    assert 'id="note-sign"' in page
    assert re.search(r'<form id="note-amend-form"[^>]*hidden>', page)
    assert "readonly" not in page


def test_room_shows_the_signed_note_read_only_in_the_viewers_zone(
    alice: User, dr_tex: User, client_for: ClientFor
) -> None:
    dr_tex.time_zone = "America/Chicago"
    dr_tex.save(update_fields=["time_zone"])
    visit = started_visit(alice, dr_tex)
    doctor = client_for(dr_tex)
    sign_note(doctor, visit)
    page = doctor.get(f"/visits/{visit.pk}/").content.decode()
    assert 'data-time-zone="America/Chicago"' in page
    assert "Signed at <time" in page
    assert ">9:00 AM CST</time>" in page
    assert '<div class="actions" id="note-actions" hidden>' in page
    assert 'name="assessment" rows="3" readonly>Eczema</textarea>' in page
    assert re.search(r'<form id="note-amend-form" novalidate data-note-id="\d+">', page)
    # The patient's room has no note panel at all.
    assert 'id="note-form"' not in client_for(alice).get(f"/visits/{visit.pk}/").content.decode()


def test_ended_page_wording_and_the_way_on(
    alice: User, dr_tex: User, client_for: ClientFor
) -> None:
    visit = started_visit(alice, dr_tex)
    doctor = client_for(dr_tex)
    clock.freeze(NOW + dt.timedelta(seconds=40))
    assert api(doctor, "post", f"/{visit.pk}/end").status_code == 200
    visit.refresh_from_db()
    assert visit.encounter is not None
    episode_id = visit.encounter.episode_id
    patient = client_for(alice)
    page = patient.get(f"/visits/{visit.pk}/").content.decode()
    assert "The visit lasted under a minute." in page
    assert "minutes" not in page
    assert f'href="/episodes/{episode_id}/" id="episode-link"' in page
    assert 'id="summary-link"' not in page  # nothing signed yet

    sign_note(doctor, visit)
    page = patient.get(f"/visits/{visit.pk}/wait/").content.decode()
    summary = f"/episodes/encounters/{visit.encounter.pk}/summary/"
    assert f'href="{summary}" id="summary-link">Your after-visit summary<' in page
    assert f'href="/episodes/{episode_id}/"' in doctor.get(f"/visits/{visit.pk}/").content.decode()


def test_ended_page_says_one_minute(alice: User, dr_tex: User, client_for: ClientFor) -> None:
    visit = started_visit(alice, dr_tex)
    clock.freeze(NOW + dt.timedelta(seconds=75))
    assert api(client_for(dr_tex), "post", f"/{visit.pk}/end").status_code == 200
    page = client_for(alice).get(f"/visits/{visit.pk}/").content.decode()
    assert "The visit lasted 1 minute." in page


def test_ended_page_is_refused_to_outsiders(
    alice: User, bob: User, dr_tex: User, dr_ny: User, client_for: ClientFor
) -> None:
    visit = started_visit(alice, dr_tex)
    clock.freeze(NOW + dt.timedelta(minutes=5))
    assert api(client_for(dr_tex), "post", f"/{visit.pk}/end").status_code == 200
    for outsider in (bob, dr_ny):
        assert client_for(outsider).get(f"/visits/{visit.pk}/").status_code == 404
