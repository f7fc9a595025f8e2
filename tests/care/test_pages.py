"""The care pages: "My care", an episode with its timeline, the patient's whole timeline
(patient and staff), filters and paging links; and who gets an audited 404 instead."""

from collections.abc import Callable

import pytest
from django.test import Client

from carepath.accounts.models import User
from carepath.audit.models import AuditEvent
from tests.care.conftest import Escalated

pytestmark = pytest.mark.django_db


def html(client: Client, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code)
    return str(response.content.decode())


def test_my_care_lists_my_episodes_only(
    escalated: Escalated, alice: User, bob: User, client_for: Callable[..., Client]
) -> None:
    page = html(client_for(alice), "/episodes/")
    assert f'data-episode-id="{escalated.episode.pk}"' in page
    assert "Skin, hair and nails" in page
    assert f'href="/episodes/{escalated.episode.pk}/"' in page
    other = html(client_for(bob), "/episodes/")
    assert "Skin, hair and nails" not in other
    assert 'id="no-episodes"' in other


def test_episode_page_for_the_patient(
    escalated: Escalated, alice: User, client_for: Callable[..., Client]
) -> None:
    page = html(client_for(alice), f"/episodes/{escalated.episode.pk}/")
    assert "escalated from the online visit" in page
    assert "Switched from video to audio only" in page
    assert f'src="/files/{escalated.photo_id}/thumbnail/"' in page
    assert f'href="/episodes/encounters/{escalated.live_encounter.pk}/summary/"' in page
    assert "It lasted 12 minutes." in page
    assert "Draft note" not in page
    assert "contact dermatitis" not in page
    assert AuditEvent.objects.filter(
        actor_id=alice.pk, action="episode.timeline", object_id=str(escalated.episode.pk)
    ).exists()


def test_episode_page_for_the_clinician_shows_drafts(
    escalated: Escalated, dr_tex: User, client_for: Callable[..., Client]
) -> None:
    page = html(client_for(dr_tex), f"/episodes/{escalated.episode.pk}/")
    assert "Draft note by" in page
    assert f'href="/episodes/patients/{escalated.episode.patient_id}/"' in page


def test_filters_and_bad_links(
    escalated: Escalated, alice: User, client_for: Callable[..., Client]
) -> None:
    client = client_for(alice)
    url = f"/episodes/{escalated.episode.pk}/"
    notes = html(client, url + "?kind=notes")
    assert "Visit note signed" in notes
    assert "Switched from video" not in notes
    assert 'aria-current="true" data-kind="notes"' in notes
    # A mangled link shows the first page, never an error.
    mangled = html(client, url + "?kind=drop&before=not-a-time")
    assert "Switched from video" in mangled
    # A NUL character is refused at the door (see carepath/core/input_guard.py).
    assert client.get(url + "?kind=%00drop").status_code == 400


@pytest.mark.parametrize("outsider", ["bob", "dr_ny", "cody"])
def test_outsiders_get_an_audited_404(
    escalated: Escalated,
    alice: User,
    outsider: str,
    request: pytest.FixtureRequest,
    client_for: Callable[..., Client],
) -> None:
    user: User = request.getfixturevalue(outsider)
    page = html(client_for(user), f"/episodes/{escalated.episode.pk}/", status=404)
    assert "Skin, hair and nails" not in page
    if user.is_staff_role:
        html(client_for(user), f"/episodes/patients/{alice.pk}/", status=404)
    assert AuditEvent.objects.filter(
        actor_id=user.pk, patient_id=alice.pk, outcome="denied"
    ).exists()


def test_patient_timeline_pages(
    escalated: Escalated,
    alice: User,
    dr_tex: User,
    client_for: Callable[..., Client],
) -> None:
    mine = html(client_for(alice), "/episodes/timeline/")
    assert "My timeline" in mine
    assert "Online visit submitted" in mine
    staff = html(client_for(dr_tex), f"/episodes/patients/{alice.pk}/")
    assert "Timeline: Alice Patient" in staff
    assert f'data-episode-id="{escalated.episode.pk}"' in staff
    assert "Draft note by" in staff
    assert AuditEvent.objects.filter(
        actor_id=dr_tex.pk, action="patient.timeline", patient_id=alice.pk
    ).exists()
    # Patients use their own page; the staff page is not theirs.
    assert client_for(alice).get(f"/episodes/patients/{alice.pk}/").status_code == 403


def test_patient_links_include_renders(dr_tex: User, alice: User) -> None:
    from django.template.loader import render_to_string

    rendered = render_to_string("care/_patient_links.html", {"patient_id": alice.pk})
    assert f'href="/episodes/patients/{alice.pk}/"' in rendered


def test_show_older_link_pages_back(
    escalated: Escalated,
    alice: User,
    client_for: Callable[..., Client],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from carepath.care import views

    monkeypatch.setattr(views, "PAGE_SIZE", 3)
    client = client_for(alice)
    first = html(client, f"/episodes/{escalated.episode.pk}/")
    assert 'id="timeline-older"' in first
    assert "Episode opened" not in first
    older = first.split('id="timeline-older"')[0].rsplit('href="', 1)[1].split('"')[0]
    walked = first
    for _ in range(10):
        page = html(client, older.replace("&amp;", "&"))
        walked += page
        if 'id="timeline-older"' not in page:
            break
        older = page.split('id="timeline-older"')[0].rsplit('href="', 1)[1].split('"')[0]
    assert "Episode opened" in walked
    assert "Back to the newest" in walked
