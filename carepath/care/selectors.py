"""Reads of the care spine. Every fetch of one record goes through access_*(): patients see
their own; staff need a care relationship (or break-the-glass), else a 404 that is audited."""

from django.db.models import QuerySet

from carepath.access.selectors import deny, may_access_patient
from carepath.accounts.models import User
from carepath.audit.actions import do_record_audit
from carepath.care.models import ClinicalNote, Encounter, Episode


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
