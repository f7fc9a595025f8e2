"""Writes on the care spine: one transaction each, with its audit event. Callers authorize the
record first (access_*); these functions check the rules that belong to the write itself."""

from django.db import transaction

from carepath.access.selectors import may_access_patient
from carepath.accounts.models import Role, User
from carepath.audit.actions import do_record_audit
from carepath.care.events import emit_episode_event
from carepath.care.models import (
    ClinicalNote,
    Encounter,
    EncounterMode,
    EncounterStatus,
    Episode,
    EpisodeStatus,
    EscalationRequest,
    EscalationStatus,
    NoteAmendment,
    NoteStatus,
)
from carepath.core import clock
from carepath.core.errors import ActionRefused

NOTE_SECTION_MAX = 20_000
REASON_MAX = 2_000

OPEN_ENCOUNTER = frozenset({EncounterStatus.PLANNED, EncounterStatus.IN_PROGRESS})


def _clip_title(title: str) -> str:
    title = " ".join(title.split())
    if not title:
        raise ActionRefused("title_required", "Say what the episode is about.", field="title")
    return title[:200]


def do_open_episode(
    patient: User, *, title: str, service_line_id: int | None = None, by: User | None = None
) -> Episode:
    if patient.role != Role.PATIENT:
        raise ActionRefused("not_patient", "Episodes belong to patients.", field="patient")
    with transaction.atomic():
        episode = Episode.objects.create(
            patient=patient, service_line_id=service_line_id, title=_clip_title(title)
        )
        do_record_audit(
            "episode.open",
            actor=by or patient,
            object_type="episode",
            object_id=episode.pk,
            patient_id=patient.pk,
            detail={"service_line_id": service_line_id},
        )
    return episode


def do_close_episode(episode: Episode, *, by: User | None) -> Episode:
    """`by` is None when the care-path engine closes an episode that reached its final step
    on an event no person caused (e.g. the check-in sweep)."""
    with transaction.atomic():
        locked = Episode.objects.select_for_update().get(pk=episode.pk)
        if locked.status == EpisodeStatus.CLOSED:
            return locked
        locked.status = EpisodeStatus.CLOSED
        locked.closed_at = clock.now()
        locked.save(update_fields=["status", "closed_at"])
        do_record_audit(
            "episode.close",
            actor=by,
            object_type="episode",
            object_id=locked.pk,
            patient_id=locked.patient_id,
        )
    return locked


def do_start_encounter(
    episode: Episode,
    mode: str,
    *,
    by: User,
    clinician: User | None = None,
    escalated_from: Encounter | None = None,
    started: bool = False,
) -> Encounter:
    """A new encounter in `episode`. `started` puts it in progress at once (a clinician is
    with the patient); otherwise it is planned (waiting, e.g. a submitted async case)."""
    if mode not in EncounterMode.values:
        raise ActionRefused("invalid_mode", "Unknown encounter mode.", field="mode")
    if escalated_from is not None and escalated_from.episode_id != episode.pk:
        raise ActionRefused(
            "other_episode",
            "An escalation stays in the episode it came from.",
            field="escalated_from",
        )
    if clinician is not None and clinician.role != Role.CLINICIAN:
        raise ActionRefused("not_clinician", "Only a clinician leads an encounter.")
    with transaction.atomic():
        locked = Episode.objects.select_for_update().get(pk=episode.pk)
        if locked.status != EpisodeStatus.OPEN:
            raise ActionRefused("episode_closed", "This episode is closed.", status=409)
        now = clock.now()
        encounter = Encounter.objects.create(
            episode=locked,
            mode=mode,
            clinician=clinician,
            escalated_from=escalated_from,
            status=EncounterStatus.IN_PROGRESS if started else EncounterStatus.PLANNED,
            created_at=now,
            started_at=now if started else None,
        )
        do_record_audit(
            "encounter.start",
            actor=by,
            object_type="encounter",
            object_id=encounter.pk,
            patient_id=episode.patient_id,
            detail={
                "mode": mode,
                "escalated_from": escalated_from.pk if escalated_from else None,
            },
        )
    return encounter


def do_begin_encounter(encounter: Encounter, *, clinician: User) -> Encounter:
    """A clinician takes the encounter up: in progress, with them as its clinician."""
    with transaction.atomic():
        locked = (
            Encounter.objects.select_for_update().select_related("episode").get(pk=encounter.pk)
        )
        if locked.status not in OPEN_ENCOUNTER:
            raise ActionRefused("encounter_closed", "This encounter has ended.", status=409)
        changed = []
        if locked.status == EncounterStatus.PLANNED:
            locked.status = EncounterStatus.IN_PROGRESS
            locked.started_at = clock.now()
            changed += ["status", "started_at"]
        if locked.clinician_id != clinician.pk:
            locked.clinician = clinician
            changed.append("clinician")
        if changed:
            locked.save(update_fields=changed)
            do_record_audit(
                "encounter.begin",
                actor=clinician,
                object_type="encounter",
                object_id=locked.pk,
                patient_id=locked.episode.patient_id,
            )
    return locked


def do_end_encounter(
    encounter: Encounter, *, by: User, status: str = EncounterStatus.FINISHED, reason: str = ""
) -> Encounter:
    if status not in {
        EncounterStatus.FINISHED,
        EncounterStatus.CANCELLED,
        EncounterStatus.ENTERED_IN_ERROR,
    }:
        raise ActionRefused("invalid_status", "An encounter ends finished or cancelled.")
    if status == EncounterStatus.ENTERED_IN_ERROR and not reason.strip():
        raise ActionRefused("reason_required", "Say why it was entered in error.", field="reason")
    with transaction.atomic():
        locked = (
            Encounter.objects.select_for_update().select_related("episode").get(pk=encounter.pk)
        )
        if locked.status not in OPEN_ENCOUNTER and status != EncounterStatus.ENTERED_IN_ERROR:
            return locked
        now = clock.now()
        locked.status = status
        locked.started_at = locked.started_at or now
        locked.ended_at = now
        locked.error_reason = reason.strip()[:REASON_MAX]
        locked.save(update_fields=["status", "started_at", "ended_at", "error_reason"])
        do_record_audit(
            "encounter.end",
            actor=by,
            object_type="encounter",
            object_id=locked.pk,
            patient_id=locked.episode.patient_id,
            detail={"status": status},
        )
    return locked


def check_note_author(author: User, encounter: Encounter) -> None:
    if author.role != Role.CLINICIAN:
        raise ActionRefused("not_clinician", "Only clinicians write clinical notes.", status=403)
    if not may_access_patient(author, encounter.episode.patient_id):
        raise ActionRefused(
            "no_access", "You have no care relationship with this patient.", status=403
        )


def _check_sections(sections: dict[str, str]) -> dict[str, str]:
    cleaned = {}
    for name, text in sections.items():
        text = text.strip()
        if len(text) > NOTE_SECTION_MAX:
            raise ActionRefused(
                "too_long",
                f"Keep the {name} under {NOTE_SECTION_MAX} characters.",
                field=name,
                status=422,
            )
        cleaned[name] = text
    return cleaned


def do_save_note_draft(
    author: User,
    encounter: Encounter,
    *,
    subjective: str = "",
    objective: str = "",
    assessment: str = "",
    plan: str = "",
) -> ClinicalNote:
    """Create or update the author's draft note for the encounter. Signed notes are never
    touched: a new draft is started only if the author has no draft yet."""
    check_note_author(author, encounter)
    sections = _check_sections(
        {"subjective": subjective, "objective": objective, "assessment": assessment, "plan": plan}
    )
    with transaction.atomic():
        note = (
            ClinicalNote.objects.select_for_update()
            .filter(encounter=encounter, author=author, status=NoteStatus.DRAFT)
            .first()
        )
        if note is None:
            note = ClinicalNote(encounter=encounter, author=author)
        for name, text in sections.items():
            setattr(note, name, text)
        note.updated_at = clock.now()
        note.save()
        do_record_audit(
            "note.save_draft",
            actor=author,
            object_type="note",
            object_id=note.pk,
            patient_id=encounter.episode.patient_id,
        )
    return note


def do_sign_note(author: User, note: ClinicalNote) -> ClinicalNote:
    with transaction.atomic():
        locked = (
            ClinicalNote.objects.select_for_update()
            .select_related("encounter__episode")
            .get(pk=note.pk)
        )
        if locked.status == NoteStatus.SIGNED:
            raise ActionRefused(
                "note_signed", "This note is already signed; add an amendment.", status=409
            )
        if locked.author_id != author.pk:
            raise ActionRefused("not_author", "Only the note's author signs it.", status=403)
        check_note_author(author, locked.encounter)
        for name in ("assessment", "plan"):
            if not getattr(locked, name).strip():
                raise ActionRefused(
                    f"{name}_required",
                    f"Write the {name} before signing.",
                    field=name,
                    status=422,
                )
        now = clock.now()
        # A draft row may be written; the signed status is the last write it ever gets.
        locked.status = NoteStatus.SIGNED
        locked.signed_at = now
        locked.updated_at = now
        locked.save(update_fields=["status", "signed_at", "updated_at"])
        do_record_audit(
            "note.sign",
            actor=author,
            object_type="note",
            object_id=locked.pk,
            patient_id=locked.encounter.episode.patient_id,
        )
        emit_episode_event(
            locked.encounter.episode_id,
            "note.signed",
            actor_id=author.pk,
            note_id=locked.pk,
            encounter_id=locked.encounter_id,
            mode=locked.encounter.mode,
        )
    return locked


def do_amend_note(author: User, note: ClinicalNote, text: str) -> NoteAmendment:
    text = text.strip()
    if not text:
        raise ActionRefused("text_required", "Write the amendment.", field="text", status=422)
    if len(text) > NOTE_SECTION_MAX:
        raise ActionRefused(
            "too_long",
            f"Keep the amendment under {NOTE_SECTION_MAX} characters.",
            field="text",
            status=422,
        )
    with transaction.atomic():
        locked = (
            ClinicalNote.objects.select_for_update()
            .select_related("encounter__episode")
            .get(pk=note.pk)
        )
        if locked.status != NoteStatus.SIGNED:
            raise ActionRefused(
                "note_not_signed", "Edit the draft; only signed notes are amended.", status=409
            )
        check_note_author(author, locked.encounter)
        amendment = NoteAmendment.objects.create(note=locked, author=author, text=text)
        do_record_audit(
            "note.amend",
            actor=author,
            object_type="note",
            object_id=locked.pk,
            patient_id=locked.encounter.episode.patient_id,
            detail={"amendment_id": amendment.pk},
        )
    return amendment


def do_request_escalation(
    user: User | None, encounter: Encounter, *, mode: str, reason: str
) -> EscalationRequest:
    """Record that this encounter should continue live (the hybrid work books the visit).
    `user` is None when a red-flag rule asks on the patient's behalf."""
    if mode not in EncounterMode.values or mode in {
        EncounterMode.ASYNC,
        EncounterMode.ECONSULT,
        EncounterMode.MONITORING,
    }:
        raise ActionRefused(
            "invalid_mode", "Escalate to a video, audio, chat or facilitated visit.", field="mode"
        )
    reason = reason.strip()
    if not reason:
        raise ActionRefused("reason_required", "Give the reason.", field="reason", status=422)
    if len(reason) > REASON_MAX:
        raise ActionRefused(
            "too_long",
            f"Keep the reason under {REASON_MAX} characters.",
            field="reason",
            status=422,
        )
    with transaction.atomic():
        request = EscalationRequest.objects.create(
            encounter=encounter, mode_wanted=mode, reason=reason, requested_by=user
        )
        do_record_audit(
            "encounter.escalation_request",
            actor=user,
            object_type="encounter",
            object_id=encounter.pk,
            patient_id=encounter.episode.patient_id,
            detail={"mode": mode, "escalation_request_id": request.pk},
        )
    return request


def do_link_escalation(
    request: EscalationRequest, live_encounter: Encounter, *, by: User | None
) -> EscalationRequest:
    """The live encounter that answers an escalation request exists (a visit opened now, or an
    appointment booked): the request is scheduled and points at it. A request already linked
    to another open encounter is refused (one escalation, one live visit)."""
    if live_encounter.escalated_from_id != request.encounter_id:
        raise ActionRefused(
            "not_this_escalation", "That encounter does not answer this escalation.", status=409
        )
    with transaction.atomic():
        locked = EscalationRequest.objects.select_for_update().get(pk=request.pk)
        if locked.live_encounter_id == live_encounter.pk:
            return locked
        if locked.status != EscalationStatus.REQUESTED:
            raise ActionRefused(
                "escalation_settled",
                "This live visit has already been arranged.",
                status=409,
            )
        locked.status = EscalationStatus.SCHEDULED
        locked.live_encounter = live_encounter
        locked.save(update_fields=["status", "live_encounter"])
        do_record_audit(
            "encounter.escalation_schedule",
            actor=by,
            object_type="encounter",
            object_id=locked.encounter_id,
            patient_id=live_encounter.episode.patient_id,
            detail={"escalation_request_id": locked.pk, "live_encounter_id": live_encounter.pk},
        )
    return locked


def do_settle_escalation(
    live_encounter: Encounter, *, by: User | None, status: str
) -> EscalationRequest | None:
    """The live encounter of an escalation ended (completed), or its booking was cancelled
    (the request is open again, so the patient can book another time)."""
    if status not in {EscalationStatus.COMPLETED, EscalationStatus.REQUESTED}:
        raise ActionRefused("invalid_status", "An escalation is completed or reopened.")
    with transaction.atomic():
        request = (
            EscalationRequest.objects.select_for_update()
            .filter(live_encounter=live_encounter)
            .first()
        )
        if request is None or request.status == status:
            return request
        request.status = status
        if status == EscalationStatus.REQUESTED:
            request.live_encounter = None
        request.save(update_fields=["status", "live_encounter"])
        do_record_audit(
            "encounter.escalation_settle",
            actor=by,
            object_type="encounter",
            object_id=request.encounter_id,
            patient_id=live_encounter.episode.patient_id,
            detail={"escalation_request_id": request.pk, "status": status},
        )
    return request
