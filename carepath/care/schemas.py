import datetime as dt
from typing import Annotated

from ninja import Schema
from pydantic import StringConstraints

from carepath.care.models import (
    ClinicalNote,
    Encounter,
    EncounterMode,
    EncounterStatus,
    Episode,
    EpisodeStatus,
    NoteAmendment,
    NoteStatus,
)


class EpisodeOut(Schema):
    id: int
    patient_id: int
    service_line: str | None
    title: str
    status: EpisodeStatus
    opened_at: dt.datetime
    closed_at: dt.datetime | None


class EncounterOut(Schema):
    id: int
    episode_id: int
    mode: EncounterMode
    status: EncounterStatus
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    clinician_id: int | None
    escalated_from_id: int | None


class AmendmentOut(Schema):
    id: int
    author: str
    text: str
    created_at: dt.datetime


class NoteOut(Schema):
    id: int
    encounter_id: int
    author: str
    status: NoteStatus
    subjective: str
    objective: str
    assessment: str
    plan: str
    signed_at: dt.datetime | None
    amendments: list[AmendmentOut]


class AmendIn(Schema):
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20000)]


def episode_out(episode: Episode) -> EpisodeOut:
    return EpisodeOut(
        id=episode.pk,
        patient_id=episode.patient_id,
        service_line=episode.service_line.code if episode.service_line else None,
        title=episode.title,
        status=EpisodeStatus(episode.status),
        opened_at=episode.opened_at,
        closed_at=episode.closed_at,
    )


def encounter_out(encounter: Encounter) -> EncounterOut:
    return EncounterOut(
        id=encounter.pk,
        episode_id=encounter.episode_id,
        mode=EncounterMode(encounter.mode),
        status=EncounterStatus(encounter.status),
        started_at=encounter.started_at,
        ended_at=encounter.ended_at,
        clinician_id=encounter.clinician_id,
        escalated_from_id=encounter.escalated_from_id,
    )


def amendment_out(amendment: NoteAmendment) -> AmendmentOut:
    return AmendmentOut(
        id=amendment.pk,
        author=amendment.author.display_name,
        text=amendment.text,
        created_at=amendment.created_at,
    )


def note_out(note: ClinicalNote) -> NoteOut:
    return NoteOut(
        id=note.pk,
        encounter_id=note.encounter_id,
        author=note.author.display_name,
        status=NoteStatus(note.status),
        subjective=note.subjective,
        objective=note.objective,
        assessment=note.assessment,
        plan=note.plan,
        signed_at=note.signed_at,
        amendments=[amendment_out(a) for a in note.amendments.select_related("author")],
    )
