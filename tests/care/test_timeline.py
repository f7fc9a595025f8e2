"""The unified timeline: one escalated episode told across modes (async case with a photo ->
video visit -> audio -> vitals -> signed note), what each viewer sees, who sees nothing
(audited 404s), filters and paging."""

import datetime as dt
import itertools
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from carepath.accounts.models import User
from carepath.audit.models import AuditEvent
from carepath.care.timeline import timeline_for_episode, timeline_for_patient
from carepath.core import clock
from carepath.messaging.actions import do_send_message, do_start_thread
from tests.care.conftest import Escalated

pytestmark = pytest.mark.django_db


def kinds(entries: Any) -> list[str]:
    return [entry.kind for entry in entries]


def api_entries(client: Client, url: str) -> list[dict[str, Any]]:
    response = client.get(url)
    assert response.status_code == 200, response.content
    return list(response.json()["entries"])


def test_escalated_episode_is_one_story_across_modes(escalated: Escalated, alice: User) -> None:
    entries = timeline_for_episode(alice, escalated.episode).entries
    # Newest first; within one instant the episode opens below its case.
    assert kinds(entries) == [
        "note.signed",
        "visit.ended",
        "case.visit",
        "visit.vitals",
        "visit.mode_changed",
        "visit.started",
        "escalation.requested",
        "case.escalated",
        "encounter.created",
        "case.photo",
        "case.submitted",
        "encounter.created",
        "episode.opened",
    ]
    by_kind = {entry.kind: entry for entry in entries}
    video = entries[8]
    assert video.title == "Video visit"
    assert "Escalated from the online visit" in video.detail
    assert video.encounter_id == escalated.live_encounter.pk
    photo = by_kind["case.photo"]
    assert photo.image_url == f"/files/{escalated.photo_id}/thumbnail/"
    assert photo.url == f"/files/{escalated.photo_id}/"
    assert by_kind["visit.mode_changed"].title == "Switched from video to audio only"
    assert by_kind["visit.ended"].detail == "It lasted 12 minutes."
    assert by_kind["visit.vitals"].detail == "Blood pressure 128/82 mmHg; Heart rate 72 per minute"
    signed = by_kind["note.signed"]
    assert signed.url == f"/episodes/encounters/{escalated.live_encounter.pk}/summary/"
    assert [e.at for e in entries] == sorted((e.at for e in entries), reverse=True)


def test_patient_never_sees_drafts_or_staff_reasons(
    escalated: Escalated, alice: User, dr_tex: User
) -> None:
    patient_view = timeline_for_episode(alice, escalated.episode).entries
    staff_view = timeline_for_episode(dr_tex, escalated.episode).entries
    assert "note.draft" not in kinds(patient_view)
    assert "note.draft" in kinds(staff_view)
    draft = next(e for e in staff_view if e.kind == "note.draft")
    assert draft.staff_only
    assert "contact dermatitis" not in str([(e.title, e.detail) for e in patient_view])
    # The clinician's own reason for escalating stays with staff.
    patient_request = next(e for e in patient_view if e.kind == "escalation.requested")
    staff_request = next(e for e in staff_view if e.kind == "escalation.requested")
    assert "how far it spreads" not in patient_request.detail
    assert "how far it spreads" in staff_request.detail
    # Links go where each viewer may open the case.
    assert next(e for e in patient_view if e.kind == "case.submitted").url.startswith(
        "/patient/visits/"
    )
    assert next(e for e in staff_view if e.kind == "case.submitted").url.startswith("/staff/cases/")


def test_timeline_api_shape_and_photo_thumbnail_is_access_checked(
    escalated: Escalated,
    alice: User,
    bob: User,
    client_for: Callable[..., Client],
) -> None:
    mine = client_for(alice)
    episode_url = f"/api/v1/care/episodes/{escalated.episode.pk}/timeline"
    entries = api_entries(mine, episode_url)
    assert entries[0]["kind"] == "note.signed"
    assert entries[0]["category"] == "notes"
    assert set(entries[0]) == {
        "at",
        "episode_id",
        "encounter_id",
        "kind",
        "category",
        "title",
        "detail",
        "actor",
        "url",
        "image_url",
    }
    photo = next(e for e in entries if e["kind"] == "case.photo")
    assert mine.get(photo["image_url"]).status_code == 200
    assert client_for(bob).get(photo["image_url"]).status_code == 404
    patient_entries = api_entries(mine, f"/api/v1/care/patients/{alice.pk}/timeline")
    assert {e["kind"] for e in entries} <= {e["kind"] for e in patient_entries}


@pytest.mark.parametrize("outsider", ["bob", "dr_ny", "cody", "ada"])
def test_outsiders_get_an_audited_404(
    escalated: Escalated,
    alice: User,
    outsider: str,
    request: pytest.FixtureRequest,
    client_for: Callable[..., Client],
) -> None:
    user: User = request.getfixturevalue(outsider)
    client = client_for(user)
    for url in (
        f"/api/v1/care/episodes/{escalated.episode.pk}/timeline",
        f"/api/v1/care/patients/{alice.pk}/timeline",
    ):
        response = client.get(url)
        assert response.status_code == 404
        assert "Atopic" not in response.content.decode()
    denied = AuditEvent.objects.filter(actor_id=user.pk, patient_id=alice.pk, outcome="denied")
    assert {event.object_type for event in denied} >= {"episode", "patient"}


def test_reads_are_audited(
    escalated: Escalated, alice: User, client_for: Callable[..., Client]
) -> None:
    client = client_for(alice)
    client.get(f"/api/v1/care/episodes/{escalated.episode.pk}/timeline")
    client.get(f"/api/v1/care/patients/{alice.pk}/timeline")
    actions = set(
        AuditEvent.objects.filter(actor_id=alice.pk, outcome="allowed").values_list(
            "action", flat=True
        )
    )
    assert {"episode.timeline", "patient.timeline"} <= actions


def test_filter_by_kind(
    escalated: Escalated, dr_tex: User, client_for: Callable[..., Client]
) -> None:
    client = client_for(dr_tex)
    base = f"/api/v1/care/episodes/{escalated.episode.pk}/timeline"
    visits = api_entries(client, base + "?kind=visits")
    assert {e["category"] for e in visits} == {"visits"}
    assert {"visit.started", "visit.mode_changed", "visit.ended", "encounter.created"} <= {
        e["kind"] for e in visits
    }
    notes = api_entries(client, base + "?kind=notes")
    assert [e["kind"] for e in notes] == ["note.signed", "note.draft"]
    observations = api_entries(client, base + "?kind=observations")
    assert [e["kind"] for e in observations] == ["visit.vitals"]
    prescriptions = api_entries(client, base + "?kind=prescriptions")
    assert all(e["category"] == "prescriptions" for e in prescriptions)
    bad = client.get(base + "?kind=everything")
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "invalid_kind"
    assert client.get(base + "?before=yesterday").status_code == 422
    assert client.get(base + "?limit=0").status_code == 422


def _all_pages(client: Client, url: str, limit: int) -> list[list[dict[str, Any]]]:
    pages, before = [], ""
    for _ in range(100):
        query: dict[str, str] = {"limit": str(limit)}
        if before:
            query["before"] = before
        response = client.get(url, query)
        assert response.status_code == 200
        body = response.json()
        pages.append(body["entries"])
        if body["next_before"] is None:
            return pages
        before = body["next_before"]
    raise AssertionError("paging did not end")


def test_paging_walks_everything_once_in_order_and_never_splits_an_instant(
    escalated: Escalated,
    alice: User,
    dr_tex: User,
    client_for: Callable[..., Client],
) -> None:
    # A long message history on the episode's thread (a windowed source).
    thread, _ = do_start_thread(
        alice,
        kind="patient",
        patient_id=alice.pk,
        subject="The cream",
        body="Does it sting at first?",
        episode_id=escalated.episode.pk,
    )
    for number in range(30):
        clock.advance(dt.timedelta(minutes=3))
        author = dr_tex if number % 2 else alice
        do_send_message(author, thread, f"Message number {number}")
    client = client_for(alice)
    url = f"/api/v1/care/episodes/{escalated.episode.pk}/timeline"
    whole = client.get(url + "?limit=200").json()
    assert whole["next_before"] is None
    pages = _all_pages(client, url, limit=4)
    walked = [entry for page in pages for entry in page]
    assert walked == whole["entries"]
    assert len(pages) > 5
    for earlier, later in itertools.pairwise(pages):
        if earlier and later:
            assert earlier[-1]["at"] > later[0]["at"]  # one instant is never split
    # The first instant (case sent, photo, episode opened...) holds four entries; with a
    # limit of 3 they still come on one page.
    small = _all_pages(client, url, limit=3)
    assert [entry for page in small for entry in page] == whole["entries"]
    assert len(small[-1]) == 4
    assert sum(1 for e in walked if e["kind"] == "message.sent") == 31


def test_messages_of_an_episode_a_general_thread_and_a_clinicians_thread(
    escalated: Escalated, alice: User, dr_tex: User
) -> None:
    clock.advance(dt.timedelta(hours=1))
    do_start_thread(
        alice,
        kind="patient",
        patient_id=alice.pk,
        subject="About my rash",
        body="It is much better.",
        episode_id=escalated.episode.pk,
    )
    clock.advance(dt.timedelta(minutes=1))
    do_start_thread(
        alice, kind="patient", patient_id=alice.pk, subject="Billing", body="A general question"
    )
    clock.advance(dt.timedelta(minutes=1))
    do_start_thread(
        dr_tex,
        kind="clinician",
        patient_id=alice.pk,
        subject="Second opinion",
        body="Staff-only thoughts",
        participant_ids=[dr_tex.pk],
    )
    episode_patient = [e.detail for e in timeline_for_episode(alice, escalated.episode).entries]
    assert "It is much better." in episode_patient
    assert "A general question" not in episode_patient
    whole_patient = timeline_for_patient(alice, alice.pk).entries
    details = [e.detail for e in whole_patient]
    assert "A general question" in details
    assert "It is much better." in details
    assert "Staff-only thoughts" not in details
    general = next(e for e in whole_patient if e.detail == "A general question")
    assert general.episode_id is None
    staff = timeline_for_patient(dr_tex, alice.pk).entries
    clinician_thread = next(e for e in staff if e.detail == "Staff-only thoughts")
    assert clinician_thread.staff_only
