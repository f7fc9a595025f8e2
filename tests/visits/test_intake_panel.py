"""The clinician's intake panel in the room of a scheduled visit whose appointment has an
intake case attached (escalated visits: tests/intake/test_escalation.py)."""

from collections.abc import Callable

import pytest
from django.test import Client

from carepath.accounts.models import Specialty, User
from carepath.care.actions import do_open_episode, do_start_encounter
from carepath.core import clock
from carepath.intake.models import Case, CaseStatus, Questionnaire, ServiceLine
from carepath.visits.models import Participant, Visit
from tests.visits.conftest import make_visit

pytestmark = pytest.mark.django_db

ClientFor = Callable[..., Client]


def intake_case(patient: User) -> Case:
    questionnaire = Questionnaire.objects.create(
        code="knee",
        version=1,
        title="Knee",
        definition={"item": [{"linkId": "what", "text": "What happened?", "type": "string"}]},
    )
    line = ServiceLine.objects.create(
        code="knee",
        name="Knee pain",
        questionnaire=questionnaire,
        sla_minutes=240,
        specialty=Specialty.objects.get(code="primary-care"),
        allowed_modes=["async", "video"],
    )
    episode = do_open_episode(patient, title="Knee", service_line_id=line.pk)
    return Case.objects.create(
        patient=patient,
        service_line=line,
        questionnaire=questionnaire,
        episode=episode,
        encounter=do_start_encounter(episode, "async", by=patient),
        state_at_submission="TX",
        status=CaseStatus.SUBMITTED,
        submitted_at=clock.now(),
        answers={"what": "Twisted it on the stairs."},
    )


def test_the_panel_shows_the_attached_intake_to_the_clinician_only(
    visit: Visit, alice: User, bob: User, dr_tex: User, dr_ny: User, client_for: ClientFor
) -> None:
    case = intake_case(alice)
    assert visit.appointment is not None
    type(visit.appointment).objects.filter(pk=visit.appointment.pk).update(intake_case=case)
    tex = client_for(dr_tex)
    room = tex.get(f"/visits/{visit.pk}/").content.decode()
    assert 'id="intake-heading">Intake<' in room
    assert "Twisted it on the stairs." in room
    assert f'href="/staff/cases/{case.pk}/review/"' in room
    for outsider in (bob, dr_ny):
        assert client_for(outsider).get(f"/visits/{visit.pk}/").status_code == 404
    alice_client = client_for(alice)
    alice_client.post(f"/api/v1/visits/{visit.pk}/check-in", {}, content_type="application/json")
    patient = Participant.objects.get(visit=visit, user=alice)
    tex.post(f"/api/v1/visits/{visit.pk}/participants/{patient.pk}/admit")
    patient_room = alice_client.get(f"/visits/{visit.pk}/").content.decode()
    assert 'id="visit-root"' in patient_room
    assert "intake-panel" not in patient_room
    assert "Twisted it" not in patient_room


def test_no_panel_without_an_intake(visit: Visit, dr_tex: User, client_for: ClientFor) -> None:
    room = client_for(dr_tex).get(f"/visits/{visit.pk}/").content.decode()
    assert "intake-panel" not in room
    assert 'id="note-form"' in room  # the SOAP note editor is there for every visit


def test_plain_visit_opens_a_new_episode_and_tells_it(
    alice: User,
    dr_tex: User,
    client_for: ClientFor,
    django_capture_on_commit_callbacks: object,
) -> None:
    from carepath.care import events

    seen: list[events.EpisodeEvent] = []
    events.register_episode_listener(seen.append)
    try:
        visit = make_visit(alice, dr_tex)
        tex = client_for(dr_tex)
        alice_client = client_for(alice)
        alice_client.post(
            f"/api/v1/visits/{visit.pk}/check-in", {}, content_type="application/json"
        )
        patient = Participant.objects.get(visit=visit, user=alice)
        with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
            tex.post(f"/api/v1/visits/{visit.pk}/participants/{patient.pk}/admit")
            tex.post(f"/api/v1/visits/{visit.pk}/end")
    finally:
        events._listeners.remove(seen.append)
    visit.refresh_from_db()
    assert visit.encounter is not None
    assert [event.name for event in seen] == ["visit.started", "visit.ended"]
    assert {event.episode_id for event in seen} == {visit.encounter.episode_id}
