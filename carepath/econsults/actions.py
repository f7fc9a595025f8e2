"""Writes for eConsults: ask (enters the work queue), answer (notifies the asker)."""

import datetime as dt
from collections.abc import Sequence

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from carepath.access.selectors import may_access_patient
from carepath.accounts.models import PatientProfile, Role, Specialty, User
from carepath.audit.actions import do_record_audit
from carepath.care.actions import (
    do_begin_encounter,
    do_end_encounter,
    do_open_episode,
    do_start_encounter,
)
from carepath.care.models import EncounterMode, Episode, EpisodeStatus
from carepath.core import clock
from carepath.core.errors import ActionRefused
from carepath.econsults.models import EConsult, EConsultAttachment, EConsultStatus
from carepath.econsults.selectors import ECONSULT_SUBJECT, econsult_work_item, holds_econsult
from carepath.files.actions import do_store_upload
from carepath.files.models import StoredFile
from carepath.notifications.actions import notify_user
from carepath.workqueue.actions import do_complete, do_enqueue
from carepath.workqueue.models import WorkItemKind, WorkItemStatus

# Specialists answer within two days; the queue's breach handling escalates after that.
ECONSULT_SLA = dt.timedelta(hours=48)
QUESTION_MIN = 10
TEXT_MAX = 5_000
MAX_FILES = 10


def _text(value: str, field: str, *, minimum: int = 1) -> str:
    value = (value or "").strip()
    if len(value) < minimum:
        raise ActionRefused(
            "too_short",
            "Write at least a sentence." if minimum > 1 else "This field is required.",
            field=field,
            status=422,
        )
    if len(value) > TEXT_MAX:
        raise ActionRefused(
            "too_long", f"Keep this under {TEXT_MAX} characters.", field=field, status=422
        )
    return value


def _episode_for(
    asker: User, patient: User, episode_id: int | None, specialty: Specialty
) -> Episode:
    if episode_id is None:
        return do_open_episode(patient, title=f"eConsult: {specialty.name}", by=asker)
    episode = Episode.objects.filter(
        pk=episode_id, patient=patient, status=EpisodeStatus.OPEN
    ).first()
    if episode is None:
        raise ActionRefused(
            "unknown_episode", "No open episode of this patient with that id.", field="episode_id"
        )
    return episode


def do_ask_econsult(
    asker: User,
    patient_id: int,
    *,
    specialty_code: str,
    question: str,
    uploads: Sequence["UploadedFile[bytes]"] = (),
    file_ids: Sequence[int] = (),
    episode_id: int | None = None,
) -> EConsult:
    """A clinician with access to the patient asks a specialty. The question waits in the
    queue for a specialist of that specialty licensed in the patient's state."""
    if asker.role != Role.CLINICIAN:
        raise ActionRefused("forbidden", "Only clinicians ask eConsults.", status=403)
    profile = PatientProfile.objects.select_related("user").filter(user_id=patient_id).first()
    if profile is None or not may_access_patient(asker, patient_id):
        do_record_audit(
            "econsult.create",
            actor=asker,
            object_type="patient",
            object_id=patient_id,
            patient_id=patient_id if profile else None,
            outcome="denied",
        )
        raise ActionRefused("not_found", "No patient with that id.", field="patient_id", status=404)
    specialty = Specialty.objects.filter(code=specialty_code).first()
    if specialty is None:
        raise ActionRefused(
            "unknown_specialty", "Choose a specialty from the list.", field="specialty", status=422
        )
    question = _text(question, "question", minimum=QUESTION_MIN)
    if len(uploads) + len(file_ids) > MAX_FILES:
        raise ActionRefused("too_many_files", f"At most {MAX_FILES} files.", field="files")
    existing = list(
        StoredFile.objects.filter(
            pk__in=list(file_ids), patient_id=patient_id, entered_in_error_at__isnull=True
        )
    )
    if len(existing) != len(set(file_ids)):
        raise ActionRefused(
            "unknown_file", "One of the files is not this patient's.", field="file_ids", status=422
        )
    stored = [do_store_upload(asker, patient_id, upload) for upload in uploads]
    patient = profile.user
    with transaction.atomic():
        episode = _episode_for(asker, patient, episode_id, specialty)
        encounter = do_start_encounter(episode, EncounterMode.ECONSULT, by=asker)
        econsult = EConsult.objects.create(
            asker=asker,
            patient=patient,
            specialty=specialty,
            state_at_request=profile.state,
            question=question,
            encounter=encounter,
        )
        for file in [*existing, *stored]:
            EConsultAttachment.objects.create(econsult=econsult, file=file, added_by=asker)
        item = do_enqueue(
            kind=WorkItemKind.ECONSULT,
            patient=patient,
            subject_type=ECONSULT_SUBJECT,
            subject_id=str(econsult.pk),
            title=f"eConsult · {specialty.name}",
            due_at=clock.now() + ECONSULT_SLA,
            required_state=profile.state,
            required_specialty=specialty,
        )
        econsult.work_item = item
        econsult.save(update_fields=["work_item"])
        do_record_audit(
            "econsult.create",
            actor=asker,
            object_type="econsult",
            object_id=econsult.pk,
            patient_id=patient_id,
            detail={"specialty": specialty.code, "files": len(existing) + len(stored)},
        )
    return econsult


def do_answer_econsult(specialist: User, econsult: EConsult, answer: str) -> EConsult:
    """The specialist who holds the work item answers; the asker is told in the app."""
    answer = _text(answer, "answer")
    if specialist.role != Role.CLINICIAN:
        raise ActionRefused("forbidden", "Only clinicians answer eConsults.", status=403)
    with transaction.atomic():
        locked = (
            EConsult.objects.select_for_update().select_related("encounter").get(pk=econsult.pk)
        )
        if locked.status != EConsultStatus.SUBMITTED:
            raise ActionRefused("already_answered", "This eConsult is closed.", status=409)
        if locked.asker_id == specialist.pk:
            raise ActionRefused(
                "own_question", "A colleague answers your own eConsult.", status=409
            )
        if not holds_econsult(specialist, locked):
            raise ActionRefused(
                "not_held", "Claim this eConsult in the queue before answering.", status=409
            )
        now = clock.now()
        locked.answer = answer
        locked.answered_by = specialist
        locked.answered_at = now
        locked.status = EConsultStatus.ANSWERED
        locked.save(update_fields=["answer", "answered_by", "answered_at", "status"])
        do_begin_encounter(locked.encounter, clinician=specialist)
        do_end_encounter(locked.encounter, by=specialist)
        item = econsult_work_item(locked)
        if item is not None and item.status == WorkItemStatus.CLAIMED:
            do_complete(specialist, item.pk)
        do_record_audit(
            "econsult.answer",
            actor=specialist,
            object_type="econsult",
            object_id=locked.pk,
            patient_id=locked.patient_id,
        )
        notify_user(
            locked.asker,
            kind="econsult",
            title=f"Your eConsult to {econsult.specialty.name} was answered",
            url=f"/staff/econsults/{locked.pk}/",
        )
    return locked
