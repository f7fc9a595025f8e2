"""Reads for intake. Cases are health information: every fetch of one goes through
access_case() (patients see their own; staff need a care relationship, which claiming the
case's work item gives them; drafts are the patient's alone)."""

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.models import Q, QuerySet

from carepath.access.selectors import deny, may_access_patient
from carepath.accounts.models import ClinicianProfile, Role, User
from carepath.audit.actions import do_record_audit
from carepath.care.models import ClinicalNote, EscalationRequest, EscalationStatus, NoteStatus
from carepath.core import clock
from carepath.files.models import StoredFile
from carepath.intake.models import (
    Case,
    CaseAttachment,
    CaseMessage,
    CaseStatus,
    Questionnaire,
    RedFlagOutcome,
    ServiceLine,
)
from carepath.workqueue.models import WorkItem, WorkItemStatus

if TYPE_CHECKING:
    from carepath.scheduling.models import Appointment
    from carepath.visits.models import Visit

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


# --- Escalations: the live visits a case continues in ----------------------------------------


@dataclass(frozen=True)
class CaseEscalation:
    """One escalation of a case and where it stands: a visit (open now, or ended), an
    appointment booked for it, or still waiting for the patient to book."""

    request: EscalationRequest
    visit: "Visit | None"
    appointment: "Appointment | None"

    @property
    def waiting_for_booking(self) -> bool:
        # A red-flag request (nobody asked for a booking) is answered by the queue instead.
        return (
            self.request.status == EscalationStatus.REQUESTED
            and self.request.requested_by_id is not None
        )

    @property
    def booking_url(self) -> str:
        return f"/patient/appointments/book/?escalation={self.request.pk}"

    @property
    def live_now(self) -> bool:
        return self.visit is not None and self.visit.is_live

    @property
    def duration(self) -> str:
        from carepath.visits.wording import duration_words

        return duration_words(self.visit.duration_seconds if self.visit else None)


def escalations_of(case: Case) -> list[CaseEscalation]:
    """Call after access_case()."""
    from carepath.scheduling.models import Appointment, AppointmentStatus
    from carepath.visits.models import Visit

    if case.encounter_id is None:
        return []
    requests = list(
        EscalationRequest.objects.filter(encounter_id=case.encounter_id)
        .select_related("live_encounter")
        .order_by("requested_at", "pk")
    )
    live_ids = [r.live_encounter_id for r in requests if r.live_encounter_id is not None]
    visits = {
        visit.encounter_id or getattr(visit.appointment, "encounter_id", None): visit
        for visit in Visit.objects.filter(
            Q(encounter_id__in=live_ids) | Q(appointment__encounter_id__in=live_ids)
        ).select_related("appointment", "clinician")
    }
    appointments = {
        appointment.encounter_id: appointment
        for appointment in Appointment.objects.filter(
            encounter_id__in=live_ids,
            status__in=[AppointmentStatus.BOOKED, AppointmentStatus.COMPLETED],
        ).select_related("clinician", "visit_type")
    }
    return [
        CaseEscalation(
            request=request,
            visit=visits.get(request.live_encounter_id),
            appointment=appointments.get(request.live_encounter_id),
        )
        for request in requests
    ]


def emergency_awaits_live_visit(case: Case) -> bool:
    """An emergency red flag marks the case escalated on submit (the patient was sent to
    emergency care), but nobody has seen them yet: the clinician who claims it may still
    escalate it to a live visit (now or scheduled), once."""
    return (
        case.status == CaseStatus.ESCALATED
        and case.red_flag_outcome == RedFlagOutcome.EMERGENCY
        and case.encounter_id is not None
        and not EscalationRequest.objects.filter(encounter_id=case.encounter_id).exists()
    )


def live_visit_of(case: Case) -> "Visit | None":
    """The live visit the case's patient (or clinician) should join now, if one is open."""
    for escalation in reversed(escalations_of(case)):
        if escalation.live_now:
            return escalation.visit
    return None


def visit_notes_of(case: Case) -> list[ClinicalNote]:
    """The signed notes of the live encounters the case escalated to (the visit's outcome)."""
    if case.encounter_id is None:
        return []
    return list(
        ClinicalNote.objects.filter(
            encounter__escalated_from_id=case.encounter_id, status=NoteStatus.SIGNED
        )
        .select_related("author", "encounter")
        .prefetch_related("amendments__author")
        .order_by("signed_at")
    )


def case_of_encounter(encounter_id: int | None) -> Case | None:
    """The async case an encounter is (or was escalated from), unauthorized: callers have
    authorized the visit or encounter and then access_case() the result."""
    if encounter_id is None:
        return None
    return Case.objects.filter(
        Q(encounter_id=encounter_id) | Q(encounter__escalations__id=encounter_id)
    ).first()
