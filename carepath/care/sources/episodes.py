"""The spine: episodes opened and closed, and each encounter with its mode (an escalation
says where it came from)."""

from collections.abc import Iterator

from carepath.accounts.models import User
from carepath.care.models import (
    Encounter,
    EncounterMode,
    EncounterStatus,
    Episode,
)
from carepath.care.sources.common import clip, is_patient, name_of
from carepath.care.timeline import TimelineEntry


def episode_url(episode_id: int) -> str:
    return f"/episodes/{episode_id}/"


def escalated_from_words(encounter: Encounter) -> str:
    source = encounter.escalated_from
    if source is None:
        return ""
    if source.mode == EncounterMode.ASYNC:
        return "Escalated from the online visit"
    return f"Escalated from the {EncounterMode(source.mode).label.lower()}"


def episode_entries(viewer: User, episode_ids: list[int]) -> Iterator[TimelineEntry]:
    episodes = Episode.objects.filter(pk__in=episode_ids).select_related("service_line")
    for episode in episodes:
        yield TimelineEntry(
            at=episode.opened_at,
            episode_id=episode.pk,
            kind="episode.opened",
            title=f"Episode opened: {episode.title}",
            url=episode_url(episode.pk),
        )
        if episode.closed_at is not None:
            yield TimelineEntry(
                at=episode.closed_at,
                episode_id=episode.pk,
                kind="episode.closed",
                title=f"Episode closed: {episode.title}",
                url=episode_url(episode.pk),
            )
    encounters = Encounter.objects.filter(episode_id__in=episode_ids).select_related(
        "clinician", "escalated_from"
    )
    for encounter in encounters.order_by("created_at", "pk"):
        yield from _encounter_entries(viewer, encounter)


def _encounter_entries(viewer: User, encounter: Encounter) -> Iterator[TimelineEntry]:
    in_error = encounter.status == EncounterStatus.ENTERED_IN_ERROR
    if in_error and is_patient(viewer):
        return
    mode = EncounterMode(encounter.mode)
    details = [escalated_from_words(encounter)]
    if encounter.clinician is not None:
        details.append(f"with {name_of(encounter.clinician)}")
    if in_error:
        details.append(f"Entered in error: {clip(encounter.error_reason, 200)}")
    yield TimelineEntry(
        at=encounter.created_at,
        episode_id=encounter.episode_id,
        kind="encounter.created",
        title=mode.label,
        detail=" · ".join(part for part in details if part),
        encounter_id=encounter.pk,
        extra={
            "mode": mode.value,
            "status": encounter.status,
            "escalated_from_id": encounter.escalated_from_id,
        },
    )
    if encounter.status == EncounterStatus.CANCELLED and encounter.ended_at is not None:
        yield TimelineEntry(
            at=encounter.ended_at,
            episode_id=encounter.episode_id,
            kind="encounter.cancelled",
            title=f"{mode.label} cancelled",
            encounter_id=encounter.pk,
        )
