"""Reads of the care spine. Every fetch of one record goes through access_*(): patients see
their own; staff need a care relationship (or break-the-glass), else a 404 that is audited."""

import datetime as dt

from django.db.models import Count, Q, QuerySet
from django.http import Http404

from carepath.access.selectors import access_patient, deny, may_access_patient
from carepath.accounts.models import PatientProfile, User
from carepath.audit.actions import do_record_audit
from carepath.care.models import ClinicalNote, Encounter, EncounterStatus, Episode, NoteStatus
from carepath.care.summary import VisitSummary, build_summary
from carepath.care.timeline import TimelinePage, timeline_for_episode, timeline_for_patient


def access_episode(user: User, episode_id: int, *, action: str = "episode.read") -> Episode:
    episode = Episode.objects.select_related("service_line").filter(pk=episode_id).first()
    if episode is None or not may_access_patient(user, episode.patient_id):
        raise deny(user, "episode", episode_id, episode.patient_id if episode else None)
    do_record_audit(
        action,
        actor=user,
        object_type="episode",
        object_id=episode.pk,
        patient_id=episode.patient_id,
    )
    return episode


def access_encounter(user: User, encounter_id: int, *, action: str = "encounter.read") -> Encounter:
    encounter = Encounter.objects.select_related("episode").filter(pk=encounter_id).first()
    patient_id = encounter.episode.patient_id if encounter else None
    if encounter is None or patient_id is None or not may_access_patient(user, patient_id):
        raise deny(user, "encounter", encounter_id, patient_id)
    do_record_audit(
        action, actor=user, object_type="encounter", object_id=encounter.pk, patient_id=patient_id
    )
    return encounter


def access_note(user: User, note_id: int, *, action: str = "note.read") -> ClinicalNote:
    note = ClinicalNote.objects.select_related("encounter__episode").filter(pk=note_id).first()
    patient_id = note.encounter.episode.patient_id if note else None
    if note is None or patient_id is None or not may_access_patient(user, patient_id):
        raise deny(user, "note", note_id, patient_id)
    do_record_audit(
        action, actor=user, object_type="note", object_id=note.pk, patient_id=patient_id
    )
    return note


def episodes_of(patient_id: int) -> QuerySet[Episode]:
    """A patient's episodes, newest first. Callers have already authorized the patient."""
    return Episode.objects.filter(patient_id=patient_id).select_related("service_line")


def notes_of(encounter: Encounter) -> QuerySet[ClinicalNote]:
    return (
        ClinicalNote.objects.filter(encounter=encounter)
        .select_related("author")
        .prefetch_related("amendments__author")
    )


def signed_notes_of_episode(episode: Episode) -> QuerySet[ClinicalNote]:
    return (
        ClinicalNote.objects.filter(encounter__episode=episode, status="signed")
        .select_related("author", "encounter")
        .prefetch_related("amendments__author")
    )


# --- Timeline and after-visit summary -------------------------------------------------------


def episode_timeline(
    user: User,
    episode_id: int,
    *,
    before: dt.datetime | None = None,
    limit: int | None = None,
    category: str = "",
) -> tuple[Episode, TimelinePage]:
    episode = access_episode(user, episode_id, action="episode.timeline")
    page = timeline_for_episode(user, episode, before=before, limit=limit, category=category)
    return episode, page


def patient_timeline(
    user: User,
    patient_id: int,
    *,
    before: dt.datetime | None = None,
    limit: int | None = None,
    category: str = "",
) -> tuple[PatientProfile, TimelinePage]:
    profile = access_patient(user, patient_id, action="patient.timeline")
    page = timeline_for_patient(user, patient_id, before=before, limit=limit, category=category)
    return profile, page


def access_summary(
    user: User, encounter_id: int, *, action: str = "summary.read"
) -> tuple[Encounter, VisitSummary]:
    """The after-visit summary of an encounter the user may see; 404 until a note is signed."""
    encounter = access_encounter(user, encounter_id, action=action)
    encounter = Encounter.objects.select_related(
        "episode__patient", "episode__service_line__specialty", "clinician"
    ).get(pk=encounter.pk)
    summary = build_summary(encounter)
    if summary is None:
        raise Http404("There is no after-visit summary for this visit yet.")
    return encounter, summary


def encounters_with_summary(episode: Episode) -> list[Encounter]:
    """Encounters of the episode whose note is signed (each has a summary), oldest first."""
    return list(
        Encounter.objects.filter(episode=episode, notes__status=NoteStatus.SIGNED)
        .distinct()
        .order_by("created_at", "pk")
    )


def episodes_with_activity(patient_id: int) -> QuerySet[Episode]:
    """The patient's episodes, newest first, with how many encounters each holds (one
    entered in error is not a visit the patient had)."""
    in_error = Q(encounters__status=EncounterStatus.ENTERED_IN_ERROR)
    # Meta.ordering is dropped from GROUP BY queries: order explicitly.
    return (
        episodes_of(patient_id)
        .annotate(encounter_count=Count("encounters", filter=~in_error))
        .order_by("-opened_at", "-pk")
    )


def booked_starts(encounters: list[Encounter]) -> dict[int, dt.datetime]:
    """By planned encounter: the start of the appointment booked for it (a booked visit is
    shown by its time, not by when it was asked for). Callers authorized the episode."""
    from carepath.scheduling.models import Appointment, AppointmentStatus

    planned = [e.pk for e in encounters if e.status == EncounterStatus.PLANNED]
    if not planned:
        return {}
    starts: dict[int, dt.datetime] = {}
    appointments = Appointment.objects.filter(
        encounter_id__in=planned, status=AppointmentStatus.BOOKED
    ).order_by("-starts_at", "-pk")
    for appointment in appointments:
        if appointment.encounter_id is not None:
            starts.setdefault(appointment.encounter_id, appointment.starts_at)
    return starts
