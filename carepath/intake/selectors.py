"""Reads for intake. Cases are health information: every fetch of one goes through
access_case() (patients see their own; staff need a care relationship, which claiming the
case's work item gives them; drafts are the patient's alone)."""

from django.db.models import QuerySet

from carepath.access.selectors import deny, may_access_patient
from carepath.accounts.models import ClinicianProfile, Role, User
from carepath.audit.actions import do_record_audit
from carepath.care.models import ClinicalNote, NoteStatus
from carepath.core import clock
from carepath.files.models import StoredFile
from carepath.intake.models import (
    Case,
    CaseAttachment,
    CaseMessage,
    CaseStatus,
    Questionnaire,
    ServiceLine,
)
from carepath.workqueue.models import WorkItem, WorkItemStatus

CASE_SUBJECT = "intake.case"


def active_service_lines() -> QuerySet[ServiceLine]:
    return ServiceLine.objects.filter(active=True).select_related("specialty", "questionnaire")


def service_line_by_code(code: str) -> ServiceLine | None:
    return active_service_lines().filter(code=code).first()


def clinician_available(service_line: ServiceLine, state: str) -> bool:
    """Is any active clinician with the service line's specialty licensed in `state` today?"""
    return (
        ClinicianProfile.objects.filter(
            user__is_active=True,
            user__role=Role.CLINICIAN,
            specialties=service_line.specialty_id,
            licenses__state=state,
            licenses__expires_on__gte=clock.now().date(),
        )
        .distinct()
        .exists()
    )


def access_case(user: User, case_id: int, *, action: str = "case.read") -> Case:
    case = (
        Case.objects.select_related(
            "service_line__specialty", "questionnaire", "episode", "encounter", "patient"
        )
        .filter(pk=case_id)
        .first()
    )
    visible = case is not None and (
        case.patient_id == user.pk
        if user.role == Role.PATIENT
        else case.status != CaseStatus.DRAFT and may_access_patient(user, case.patient_id)
    )
    if case is None or not visible:
        raise deny(user, "case", case_id, case.patient_id if case else None)
    do_record_audit(
        action, actor=user, object_type="case", object_id=case.pk, patient_id=case.patient_id
    )
    return case


def cases_of_patient(patient: User) -> QuerySet[Case]:
    return Case.objects.filter(patient=patient).select_related("service_line")


def open_draft(patient: User, service_line: ServiceLine) -> Case | None:
    """The patient's unfinished draft for this service line, to pick up where they left."""
    return (
        Case.objects.filter(patient=patient, service_line=service_line, status=CaseStatus.DRAFT)
        .order_by("-draft_saved_at")
        .first()
    )


def attachments_of(case: Case) -> list[CaseAttachment]:
    return list(
        CaseAttachment.objects.filter(case=case, removed_at__isnull=True).select_related("file")
    )


def messages_of(case: Case) -> list[CaseMessage]:
    return list(
        CaseMessage.objects.filter(case=case)
        .select_related("author")
        .prefetch_related("attachments__file")
    )


def case_work_item(case: Case) -> WorkItem | None:
    if case.work_item_id is not None:
        return WorkItem.objects.filter(pk=case.work_item_id).first()
    return (
        WorkItem.objects.filter(subject_type=CASE_SUBJECT, subject_id=str(case.pk))
        .order_by("-created_at")
        .first()
    )


def holds_case(user: User, case: Case) -> bool:
    """Does this clinician hold the case's work item (claimed it and still has it)?"""
    item = case_work_item(case)
    return (
        item is not None and item.status == WorkItemStatus.CLAIMED and item.claimed_by_id == user.pk
    )


def latest_questionnaires() -> list[Questionnaire]:
    """The newest version of each questionnaire code."""
    latest: dict[str, Questionnaire] = {}
    for questionnaire in Questionnaire.objects.order_by("code", "-version"):
        latest.setdefault(questionnaire.code, questionnaire)
    return list(latest.values())


def patient_file(patient: User, file_id: int) -> StoredFile | None:
    return StoredFile.objects.filter(
        pk=file_id, patient=patient, uploaded_by=patient, entered_in_error_at__isnull=True
    ).first()


def signed_answer_note(case: Case) -> ClinicalNote | None:
    """The signed SOAP note of the case's async encounter (the answer's clinical record)."""
    if case.encounter_id is None:
        return None
    return (
        ClinicalNote.objects.filter(encounter_id=case.encounter_id, status=NoteStatus.SIGNED)
        .prefetch_related("amendments__author")
        .order_by("-signed_at")
        .first()
    )
