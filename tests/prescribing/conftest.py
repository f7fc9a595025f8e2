"""Fixtures for prescribing: the formulary, pharmacies, and episodes with an async case
encounter (and, when a test needs it, a live video encounter with the clinician)."""

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from django.core.cache import cache
from django.test import Client

from carepath.access.actions import do_add_care_relationship
from carepath.accounts.models import User
from carepath.care.actions import do_open_episode, do_request_escalation, do_start_encounter
from carepath.care.events import EpisodeEvent, _listeners, register_episode_listener
from carepath.care.models import Encounter, Episode
from carepath.core import clock
from carepath.intake.models import Case, CaseStatus
from carepath.intake.seed import seed_service_lines
from carepath.pharmacy.models import Pharmacy, PreferredPharmacy
from carepath.prescribing.actions import (
    OrderDetails,
    SignOff,
    do_create_draft,
    do_sign_prescription,
)
from carepath.prescribing.models import Medication, Prescription
from carepath.prescribing.seed import seed_formulary
from carepath.visits.actions import (
    do_admit,
    do_end_visit,
    do_ensure_participant,
    do_invite_guest,
    do_open_escalated_visit,
    do_open_link,
)
from carepath.visits.models import Participant, Visit


@pytest.fixture(autouse=True)
def _fresh_totp_cache() -> Iterator[None]:
    """allauth remembers used TOTP codes in the cache; tests start with none used."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def meds(clinic: None) -> dict[str, Medication]:
    return {m.name: m for m in seed_formulary()}


def make_pharmacy(ncpdp: str, name: str, city: str, state: str, **fields: Any) -> Pharmacy:
    return Pharmacy.objects.create(
        ncpdp_id=ncpdp,
        name=name,
        address_line="100 Main St",
        city=city,
        state=state,
        postal_code="78701",
        phone="512-555-0100",
        **fields,
    )


@pytest.fixture
def cvs(clinic: None) -> Pharmacy:
    return make_pharmacy("4412345", "CVS Pharmacy", "Austin", "TX")


@pytest.fixture
def alice_prefers_cvs(alice: User, cvs: Pharmacy) -> Pharmacy:
    PreferredPharmacy.objects.create(patient=alice, pharmacy=cvs)
    return cvs


@dataclass
class Care:
    episode: Episode
    async_encounter: Encounter
    case: Case


def open_async_care(patient: User, clinician: User, *, state: str = "TX") -> Care:
    """An episode begun by a submitted dermatology case the clinician is reviewing (the
    care relationship a claim would give)."""
    line = next(line for line in seed_service_lines() if line.code == "dermatology")
    episode = do_open_episode(patient, title="Rash on both elbows", service_line_id=line.pk)
    encounter = do_start_encounter(episode, "async", by=patient, clinician=clinician, started=True)
    case = Case.objects.create(
        patient=patient,
        service_line=line,
        questionnaire=line.questionnaire,
        episode=episode,
        encounter=encounter,
        state_at_submission=state,
        status=CaseStatus.IN_REVIEW,
        submitted_at=clock.now(),
    )
    do_add_care_relationship(clinician, patient.pk)
    return Care(episode=episode, async_encounter=encounter, case=case)


def open_video_visit(care: Care, clinician: User, *, mode: str = "video") -> Visit:
    """The clinician escalates the async case to a live visit now (the visits app's own
    path): the visit is theirs, nobody is admitted yet, its encounter is planned."""
    escalation = do_request_escalation(
        clinician, care.async_encounter, mode=mode, reason="Needs a look on video."
    )
    return do_open_escalated_visit(escalation, mode=mode, by=clinician, clinician=clinician)


def admit_patient(visit: Visit, clinician: User) -> Participant:
    participant = do_ensure_participant(visit, visit.patient)
    return do_admit(clinician, visit.pk, participant.pk)


def admit_guest(visit: Visit, clinician: User, name: str = "Sam Guest") -> Participant:
    """A caregiver link the clinician made and opened themselves: the visit starts, with no
    patient in it."""
    _, token = do_invite_guest(visit, by=clinician, role="caregiver", name=name)
    opened = do_open_link(visit.pk, token, user=None, bound_participant=None, guest_name=name)
    assert opened.participant is not None
    return do_admit(clinician, visit.pk, opened.participant.pk)


def clinician_in(visit: Visit, clinician: User) -> Participant:
    return Participant.objects.get(visit=visit, user=clinician)


def add_video(care: Care, clinician: User, *, finish: bool = True) -> Encounter:
    """A live video visit with the patient admitted on video (what the controlled-substance
    rule asks for); ended unless `finish` is False."""
    visit = open_video_visit(care, clinician)
    admit_patient(visit, clinician)
    if finish:
        do_end_visit(clinician, visit.pk)
    visit.refresh_from_db()
    assert visit.encounter is not None
    return visit.encounter


@pytest.fixture
def alice_care(alice: User, dr_tex: User, alice_prefers_cvs: Pharmacy) -> Care:
    return open_async_care(alice, dr_tex)


def order(medication: Medication, pharmacy: Pharmacy, **overrides: Any) -> OrderDetails:
    fields: dict[str, Any] = {
        "medication": medication,
        "strength": medication.strengths[-1],
        "dose_form": medication.dose_forms[0],
        "sig": medication.sig_templates[0],
        "quantity": 28,
        "days_supply": 14,
        "refills": 0,
        "pharmacy": pharmacy,
    }
    fields.update(overrides)
    return OrderDetails(**fields)


def signed_prescription(
    clinician: User, encounter: Encounter, medication: Medication, pharmacy: Pharmacy, **kw: Any
) -> Prescription:
    draft = do_create_draft(clinician, encounter, order(medication, pharmacy, **kw))
    return do_sign_prescription(clinician, draft, SignOff(mfa_code=totp_code(clinician)))


def totp_code(user: User) -> str:
    """The current code of the persona's authenticator (tests/personas.py keeps the secret)."""
    secret: str = user.totp_secret  # type: ignore[attr-defined]
    code: str = format_hotp_value(hotp_value(secret, int(time.time()) // 30))
    return code


@pytest.fixture
def episode_events() -> Iterator[list[EpisodeEvent]]:
    """Episode events delivered during the test (after their commits)."""
    seen: list[EpisodeEvent] = []
    register_episode_listener(seen.append)
    yield seen
    _listeners.remove(seen.append)


def api_post(client: Client, url: str, body: Any, **headers: str) -> Any:
    return client.post(url, body, content_type="application/json", headers=headers)


ClientFor = Callable[..., Client]
