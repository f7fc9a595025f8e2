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
from carepath.care.summary import VisitSummary, summary_url
from carepath.care.timeline import TimelineEntry, TimelinePage, category_of


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


class TimelineEntryOut(Schema):
    at: dt.datetime
    episode_id: int | None
    encounter_id: int | None
    kind: str
    category: str
    title: str
    detail: str
    actor: str
    url: str
    image_url: str


class TimelinePageOut(Schema):
    entries: list[TimelineEntryOut]
    # Send as `before` for the next (older) page; null when there is none.
    next_before: dt.datetime | None


class SummarySectionSchema(Schema):
    key: str
    heading: str
    paragraphs: list[str]


class SummaryOut(Schema):
    encounter_id: int
    episode_id: int
    patient_id: int
    episode_title: str
    visit: str
    clinicians: list[str]
    visit_at: dt.datetime
    signed_at: dt.datetime
    sections: list[SummarySectionSchema]
    pdf_url: str


def timeline_entry_out(entry: TimelineEntry) -> TimelineEntryOut:
    return TimelineEntryOut(
        at=entry.at,
        episode_id=entry.episode_id,
        encounter_id=entry.encounter_id,
        kind=entry.kind,
        category=category_of(entry.kind),
        title=entry.title,
        detail=entry.detail,
        actor=entry.actor,
        url=entry.url,
        image_url=entry.image_url,
    )


def timeline_page_out(page: TimelinePage) -> TimelinePageOut:
    return TimelinePageOut(
        entries=[timeline_entry_out(entry) for entry in page.entries],
        next_before=page.next_before,
    )


def summary_out(summary: VisitSummary) -> SummaryOut:
    return SummaryOut(
        encounter_id=summary.encounter_id,
        episode_id=summary.episode_id,
        patient_id=summary.patient_id,
        episode_title=summary.episode_title,
        visit=summary.visit_label,
        clinicians=summary.clinicians,
        visit_at=summary.visit_at,
        signed_at=summary.signed_at,
        sections=[
            SummarySectionSchema(key=s.key, heading=s.heading, paragraphs=s.paragraphs)
            for s in summary.sections
        ],
        pdf_url=summary_url(summary.encounter_id) + "pdf/",
    )
