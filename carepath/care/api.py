"""/api/v1/care: the spine (episodes, encounters, notes) for whoever may see the patient."""

from django.http import HttpRequest
from ninja import Query, Router, Status

from carepath.access.selectors import access_patient, deny
from carepath.accounts.models import Role
from carepath.accounts.permissions import check_role
from carepath.care.actions import do_amend_note
from carepath.care.schemas import (
    AmendIn,
    AmendmentOut,
    EncounterOut,
    EpisodeOut,
    NoteOut,
    SummaryOut,
    TimelinePageOut,
    amendment_out,
    encounter_out,
    episode_out,
    note_out,
    summary_out,
    timeline_page_out,
)
from carepath.care.selectors import (
    access_encounter,
    access_episode,
    access_note,
    access_summary,
    episode_timeline,
    episodes_of,
    notes_of,
    patient_timeline,
)
from carepath.care.timeline import DEFAULT_LIMIT, MAX_LIMIT, check_category, parse_before
from carepath.core.api import current_user, only

router = Router(tags=["care"])


@router.get(
    "/patients/{patient_id}/episodes",
    response=list[EpisodeOut],
    summary="A patient's episodes of care",
)
def list_episodes(request: HttpRequest, patient_id: int) -> list[EpisodeOut]:
    user = current_user(request)
    access_patient(user, patient_id, action="episode.list")
    return [episode_out(e) for e in episodes_of(patient_id)[:200]]


@router.get("/episodes/{episode_id}", response=EpisodeOut)
def get_episode(request: HttpRequest, episode_id: int) -> EpisodeOut:
    return episode_out(access_episode(current_user(request), episode_id))


@router.get("/episodes/{episode_id}/encounters", response=list[EncounterOut])
def list_encounters(request: HttpRequest, episode_id: int) -> list[EncounterOut]:
    episode = access_episode(current_user(request), episode_id, action="encounter.list")
    return [encounter_out(e) for e in episode.encounters.all()]


@router.get("/encounters/{encounter_id}", response=EncounterOut)
def get_encounter(request: HttpRequest, encounter_id: int) -> EncounterOut:
    return encounter_out(access_encounter(current_user(request), encounter_id))


@router.get(
    "/encounters/{encounter_id}/notes",
    response=list[NoteOut],
    summary="Clinical notes of an encounter (staff; patients see signed notes only)",
)
def list_notes(request: HttpRequest, encounter_id: int) -> list[NoteOut]:
    user = current_user(request)
    encounter = access_encounter(user, encounter_id, action="note.list")
    notes = notes_of(encounter)
    if user.role == Role.PATIENT:
        notes = notes.filter(status="signed")
    return [note_out(n) for n in notes]


@router.get("/notes/{note_id}", response=NoteOut)
def get_note(request: HttpRequest, note_id: int) -> NoteOut:
    user = current_user(request)
    note = access_note(user, note_id)
    if user.role == Role.PATIENT and note.status != "signed":
        raise deny(user, "note", note_id, note.encounter.episode.patient_id)
    return note_out(note)


@router.post(
    "/notes/{note_id}/amendments",
    response={201: AmendmentOut},
    summary="Amend a signed note (signed notes never change; amendments are appended)",
    auth=only(Role.CLINICIAN),
)
def amend_note(request: HttpRequest, note_id: int, payload: AmendIn) -> Status[AmendmentOut]:
    user = current_user(request)
    check_role(user, {Role.CLINICIAN}, "note.amend")
    note = access_note(user, note_id, action="note.amend")
    return Status(201, amendment_out(do_amend_note(user, note, payload.text)))


TIMELINE_HELP = (
    "Newest first. `limit` entries older than `before` (an ISO 8601 instant; send the "
    "previous page's `next_before`), extended so one instant is never split across pages. "
    "`kind` filters: visits, messages, notes, prescriptions, observations, intake, care."
)


@router.get(
    "/episodes/{episode_id}/timeline",
    response=TimelinePageOut,
    summary="One episode's timeline (paged, newest first)",
    description=TIMELINE_HELP,
)
def get_episode_timeline(
    request: HttpRequest,
    episode_id: int,
    before: str | None = None,
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),  # type: ignore[type-arg]
    kind: str | None = None,
) -> TimelinePageOut:
    user = current_user(request)
    category, moment = check_category(kind), parse_before(before)
    _episode, page = episode_timeline(
        user, episode_id, before=moment, limit=limit, category=category
    )
    return timeline_page_out(page)


@router.get(
    "/patients/{patient_id}/timeline",
    response=TimelinePageOut,
    summary="A patient's whole timeline: every episode and what belongs to none (paged)",
    description=TIMELINE_HELP,
)
def get_patient_timeline(
    request: HttpRequest,
    patient_id: int,
    before: str | None = None,
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),  # type: ignore[type-arg]
    kind: str | None = None,
) -> TimelinePageOut:
    user = current_user(request)
    category, moment = check_category(kind), parse_before(before)
    _profile, page = patient_timeline(
        user, patient_id, before=moment, limit=limit, category=category
    )
    return timeline_page_out(page)


@router.get(
    "/encounters/{encounter_id}/summary",
    response=SummaryOut,
    summary="The after-visit summary of an encounter (404 until its note is signed)",
)
def get_summary(request: HttpRequest, encounter_id: int) -> SummaryOut:
    _encounter, summary = access_summary(current_user(request), encounter_id)
    return summary_out(summary)
