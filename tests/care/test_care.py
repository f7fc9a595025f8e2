"""The care spine: episodes, encounters (escalation stays in the episode), SOAP notes that
cannot change once signed, and who may see them."""

from collections.abc import Callable
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.http import Http404
from django.test import Client

from carepath.access.actions import do_add_care_relationship
from carepath.accounts.models import User
from carepath.audit.models import AuditEvent
from carepath.care import events
from carepath.care.actions import (
    do_amend_note,
    do_close_episode,
    do_link_escalation,
    do_open_episode,
    do_request_escalation,
    do_save_note_draft,
    do_settle_escalation,
    do_sign_note,
    do_start_encounter,
)
from carepath.care.events import EpisodeEvent, register_episode_listener
from carepath.care.models import ClinicalNote, Encounter, EscalationStatus, SignedNoteImmutable
from carepath.care.selectors import access_encounter, access_episode
from carepath.core.errors import ActionRefused

pytestmark = pytest.mark.django_db


def test_escalation_is_a_new_encounter_in_the_same_episode(alice: User, dr_tex: User) -> None:
    episode = do_open_episode(alice, title="Rash, Nov 2026")
    first = do_start_encounter(episode, "async", by=alice)
    request = do_request_escalation(dr_tex, first, mode="video", reason="Needs a look")
    live = do_start_encounter(episode, "video", by=dr_tex, clinician=dr_tex, escalated_from=first)
    request.live_encounter = live
    request.save()
    assert live.escalated_from == first
    assert live.episode == episode
    other = do_open_episode(alice, title="Other")
    with pytest.raises(ActionRefused) as refused:
        do_start_encounter(other, "video", by=dr_tex, escalated_from=first)
    assert refused.value.code == "other_episode"
    with pytest.raises(ActionRefused):
        do_request_escalation(dr_tex, first, mode="async", reason="no")
    do_close_episode(episode, by=dr_tex)
    with pytest.raises(ActionRefused):
        do_start_encounter(episode, "chat", by=dr_tex)


def test_access_episode_and_encounter(alice: User, bob: User, dr_tex: User) -> None:
    episode = do_open_episode(alice, title="Rash")
    encounter = do_start_encounter(episode, "async", by=alice)
    assert access_episode(alice, episode.pk) == episode
    for outsider in (bob, dr_tex):
        with pytest.raises(Http404):
            access_episode(outsider, episode.pk)
        with pytest.raises(Http404):
            access_encounter(outsider, encounter.pk)
    assert AuditEvent.objects.filter(
        actor_id=bob.pk, object_type="episode", outcome="denied", patient_id=alice.pk
    ).exists()
    do_add_care_relationship(dr_tex, alice.pk)
    assert access_encounter(dr_tex, encounter.pk) == encounter


def test_signed_note_is_immutable_amendments_are_appended(
    alice: User, dr_tex: User, dr_ny: User
) -> None:
    encounter = do_start_encounter(do_open_episode(alice, title="Rash"), "async", by=alice)
    with pytest.raises(ActionRefused) as no_access:
        do_save_note_draft(dr_tex, encounter, assessment="x")
    assert no_access.value.status == 403
    do_add_care_relationship(dr_tex, alice.pk)
    do_add_care_relationship(dr_ny, alice.pk)
    note = do_save_note_draft(dr_tex, encounter, subjective="Itchy", assessment="Eczema")
    same = do_save_note_draft(
        dr_tex, encounter, subjective="Itchy", assessment="Eczema", plan="Cream"
    )
    assert same.pk == note.pk  # one draft per author, updated in place
    with pytest.raises(ActionRefused) as not_author:
        do_sign_note(dr_ny, same)
    assert not_author.value.code == "not_author"
    with pytest.raises(ActionRefused) as incomplete:
        do_sign_note(dr_tex, do_save_note_draft(dr_tex, encounter, assessment="Eczema"))
    assert incomplete.value.field == "plan"
    do_save_note_draft(dr_tex, encounter, assessment="Eczema", plan="Cream")
    signed = do_sign_note(dr_tex, note)
    assert signed.status == "signed"
    assert signed.signed_at is not None
    with pytest.raises(ActionRefused) as twice:
        do_sign_note(dr_tex, signed)
    assert twice.value.status == 409
    signed.plan = "Something else"
    with pytest.raises(SignedNoteImmutable):
        signed.save()
    # A new draft never touches the signed note.
    new_draft = do_save_note_draft(dr_tex, encounter, plan="Follow-up")
    assert new_draft.pk != note.pk
    assert ClinicalNote.objects.get(pk=note.pk).plan == "Cream"
    amendment = do_amend_note(dr_ny, signed, "Also avoid hot showers.")
    assert amendment.note_id == note.pk
    with pytest.raises(ActionRefused):
        do_amend_note(dr_tex, new_draft, "drafts are edited, not amended")


def test_database_refuses_inconsistent_rows(alice: User, dr_tex: User) -> None:
    encounter = do_start_encounter(do_open_episode(alice, title="Rash"), "async", by=alice)
    with pytest.raises(IntegrityError), transaction.atomic():
        ClinicalNote.objects.create(encounter=encounter, author=dr_tex, status="signed")
    with pytest.raises(IntegrityError), transaction.atomic():
        Encounter.objects.filter(pk=encounter.pk).update(escalated_from=encounter)


def test_care_api(alice: User, bob: User, client_for: Callable[..., Client]) -> None:
    episode = do_open_episode(alice, title="Rash")
    do_start_encounter(episode, "async", by=alice)
    mine = client_for(alice).get(f"/api/v1/care/episodes/{episode.pk}")
    assert mine.status_code == 200
    assert mine.json()["title"] == "Rash"
    encounters = client_for(alice).get(f"/api/v1/care/episodes/{episode.pk}/encounters").json()
    assert [e["mode"] for e in encounters] == ["async"]
    assert client_for(bob).get(f"/api/v1/care/episodes/{episode.pk}").status_code == 404
    listed = client_for(alice).get(f"/api/v1/care/patients/{alice.pk}/episodes").json()
    assert [e["id"] for e in listed] == [episode.pk]


def test_escalation_is_linked_to_its_live_encounter_then_settled(alice: User, dr_tex: User) -> None:
    episode = do_open_episode(alice, title="Rash")
    first = do_start_encounter(episode, "async", by=alice)
    request = do_request_escalation(dr_tex, first, mode="video", reason="Look closer")
    stray = do_start_encounter(episode, "video", by=dr_tex)
    with pytest.raises(ActionRefused) as not_this:
        do_link_escalation(request, stray, by=dr_tex)
    assert not_this.value.code == "not_this_escalation"
    live = do_start_encounter(episode, "video", by=dr_tex, escalated_from=first)
    linked = do_link_escalation(request, live, by=dr_tex)
    assert (linked.status, linked.live_encounter_id) == (EscalationStatus.SCHEDULED, live.pk)
    assert do_link_escalation(request, live, by=dr_tex).pk == request.pk  # idempotent
    other = do_start_encounter(episode, "audio", by=dr_tex, escalated_from=first)
    with pytest.raises(ActionRefused) as settled:
        do_link_escalation(request, other, by=dr_tex)
    assert settled.value.code == "escalation_settled"
    reopened = do_settle_escalation(live, by=alice, status=EscalationStatus.REQUESTED)
    assert reopened is not None
    assert (reopened.status, reopened.live_encounter_id) == (EscalationStatus.REQUESTED, None)
    do_link_escalation(request, other, by=dr_tex)
    done = do_settle_escalation(other, by=dr_tex, status=EscalationStatus.COMPLETED)
    assert done is not None
    assert done.status == EscalationStatus.COMPLETED
    assert do_settle_escalation(stray, by=dr_tex, status=EscalationStatus.COMPLETED) is None


def test_signing_a_note_tells_the_episode(
    alice: User, dr_tex: User, django_capture_on_commit_callbacks: Any
) -> None:
    seen: list[EpisodeEvent] = []
    register_episode_listener(seen.append)
    try:
        encounter = do_start_encounter(do_open_episode(alice, title="Rash"), "async", by=alice)
        do_add_care_relationship(dr_tex, alice.pk)
        note = do_save_note_draft(dr_tex, encounter, assessment="Eczema", plan="Cream")
        with django_capture_on_commit_callbacks(execute=True):
            do_sign_note(dr_tex, note)
    finally:
        events._listeners.remove(seen.append)
    assert [(event.name, event.episode_id, event.actor_id) for event in seen] == [
        ("note.signed", encounter.episode_id, dr_tex.pk)
    ]
    assert seen[0].detail == {"note_id": note.pk, "encounter_id": encounter.pk, "mode": "async"}
