"""Fixtures for the timeline and after-visit summary tests: uploads in a throwaway
MEDIA_ROOT, the seeded service lines, the care pages routed (tests/care/urls.py), and one
escalated episode built with the real actions: an async dermatology case with a photo ->
the clinician escalates to a video visit now -> video -> audio -> vitals -> ended -> signed
note (and a draft note only staff may see)."""

import datetime as dt
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings

from carepath.accounts.models import User
from carepath.care.actions import do_save_note_draft, do_sign_note
from carepath.care.models import ClinicalNote, Encounter, Episode
from carepath.core import clock
from carepath.intake.actions import do_escalate_case, do_start_case, do_submit_case
from carepath.intake.models import Case, ServiceLine
from carepath.intake.seed import seed_service_lines
from carepath.visits.actions import (
    do_admit,
    do_change_mode,
    do_end_visit,
    do_ensure_participant,
    do_record_vitals,
)
from carepath.visits.models import Visit
from carepath.workqueue.actions import do_claim
from tests.intake.conftest import TEST_KEYS, derm_answers, upload_photo

T0 = dt.datetime(2026, 11, 2, 15, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def media_root() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="carepath-care-"))
    with override_settings(
        MEDIA_ROOT=str(root), FILE_ENCRYPTION_KEYS=TEST_KEYS, FILE_ENCRYPTION_KEY_ID="k1"
    ):
        yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def lines(clinic: None) -> dict[str, ServiceLine]:
    return {line.code: line for line in seed_service_lines()}


@dataclass
class Escalated:
    case: Case
    episode: Episode
    async_encounter: Encounter
    live_encounter: Encounter
    visit: Visit
    photo_id: int
    note: ClinicalNote
    draft: ClinicalNote


def build_escalated(
    patient: User, clinician: User, lines: dict[str, ServiceLine], capture: Any
) -> Escalated:
    """Every step a few minutes apart, so the timeline order is the story's order."""
    clock.freeze(T0)
    photo_id = upload_photo(patient)
    case = do_start_case(patient, lines["dermatology"], "TX")
    case.answers = derm_answers([photo_id])
    case.save()
    case = do_submit_case(patient, case)
    clock.advance(dt.timedelta(minutes=30))
    do_claim(clinician, case.work_item_id or 0)
    case = do_escalate_case(
        clinician, case, mode="video", reason="Need to see how far it spreads.", when="now"
    )
    visit = Visit.objects.get(patient=patient)
    clock.advance(dt.timedelta(minutes=5))
    patient_in_room = do_ensure_participant(visit, patient)
    do_admit(clinician, visit.pk, patient_in_room.pk)
    doctor_in_room = do_ensure_participant(visit, clinician)
    clock.advance(dt.timedelta(minutes=4))
    do_change_mode(doctor_in_room.pk, "audio")
    clock.advance(dt.timedelta(minutes=1))
    do_record_vitals(doctor_in_room.pk, {"heart_rate": 72, "bp_systolic": 128, "bp_diastolic": 82})
    clock.advance(dt.timedelta(minutes=7))
    do_end_visit(clinician, visit.pk)
    visit.refresh_from_db()
    assert visit.encounter is not None
    live = visit.encounter
    clock.advance(dt.timedelta(minutes=10))
    draft = do_save_note_draft(
        clinician, case.encounter or live, assessment="Thinking: contact dermatitis?", plan="TBD"
    )
    note = do_save_note_draft(
        clinician,
        live,
        subjective="S: itchy patches on both elbows for weeks",
        assessment="A: Atopic dermatitis, mild. No sx of infection.",
        plan="P: Triamcinolone 0.1% cream bid x14d.\nMoisturize daily. F/u prn.",
    )
    with capture(execute=True):
        note = do_sign_note(clinician, note)
    case.refresh_from_db()
    assert case.encounter is not None
    episode = case.encounter.episode
    return Escalated(
        case=case,
        episode=episode,
        async_encounter=case.encounter,
        live_encounter=live,
        visit=visit,
        photo_id=photo_id,
        note=note,
        draft=draft,
    )


@pytest.fixture
def escalated(
    alice: User,
    dr_tex: User,
    lines: dict[str, ServiceLine],
    django_capture_on_commit_callbacks: Any,
) -> Escalated:
    return build_escalated(alice, dr_tex, lines, django_capture_on_commit_callbacks)
