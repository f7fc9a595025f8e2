import datetime as dt
from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import Field, StringConstraints

from carepath.care.models import ClinicalNote
from carepath.core.us_states import UsState
from carepath.intake.models import (
    Case,
    CaseAttachment,
    CaseMessage,
    CaseStatus,
    Questionnaire,
    RedFlagOutcome,
    ServiceLine,
)
from carepath.intake.selectors import CaseEscalation

Message = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]
Section = Annotated[str, StringConstraints(strip_whitespace=True, max_length=20000)]
RequiredSection = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20000)
]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Code = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,59}$")]


class ServiceLineOut(Schema):
    code: str
    name: str
    description: str
    sla_minutes: int
    specialty: str
    allowed_modes: list[str]
    questionnaire_id: int
    questionnaire_version: int
    active: bool


class ServiceLineAdminOut(ServiceLineOut):
    red_flag_rules: list[Any]


class ServiceLineIn(Schema):
    code: Code
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
    description: Annotated[str, StringConstraints(max_length=2000)] = ""
    questionnaire_id: int
    sla_minutes: int = Field(ge=1, le=14 * 24 * 60)
    specialty: Code
    allowed_modes: list[Literal["async", "video", "audio", "chat", "facilitated"]] = Field(
        min_length=1
    )
    red_flag_rules: list[Any] = Field(default_factory=list, max_length=100)
    active: bool = True


def service_line_out(line: ServiceLine) -> ServiceLineOut:
    return ServiceLineOut(
        code=line.code,
        name=line.name,
        description=line.description,
        sla_minutes=line.sla_minutes,
        specialty=line.specialty.code,
        allowed_modes=list(line.allowed_modes or []),
        questionnaire_id=line.questionnaire_id,
        questionnaire_version=line.questionnaire.version,
        active=line.active,
    )


def service_line_admin_out(line: ServiceLine) -> ServiceLineAdminOut:
    return ServiceLineAdminOut(
        **service_line_out(line).model_dump(), red_flag_rules=list(line.red_flag_rules or [])
    )


class AvailabilityOut(Schema):
    service_line: str
    state: UsState
    available: bool
    message: str


class QuestionnaireOut(Schema):
    id: int
    code: str
    version: int
    title: str
    definition: dict[str, Any]
    created_at: dt.datetime


class QuestionnaireIn(Schema):
    code: Code
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    definition: dict[str, Any]


def questionnaire_out(questionnaire: Questionnaire) -> QuestionnaireOut:
    return QuestionnaireOut(
        id=questionnaire.pk,
        code=questionnaire.code,
        version=questionnaire.version,
        title=questionnaire.title,
        definition=questionnaire.definition,
        created_at=questionnaire.created_at,
    )


class CaseCreateIn(Schema):
    service_line: Code
    state: UsState = Field(description="The state the patient is in right now.")
    answers: dict[str, Any] = Field(default_factory=dict)
    submit: bool = Field(default=False, description="Submit at once (answers must be complete).")


class DraftIn(Schema):
    answers: dict[str, Any]
    state: UsState | None = None


class AttachIn(Schema):
    file_id: int
    link_id: Annotated[str, StringConstraints(max_length=64)] = ""


class ReplyIn(Schema):
    text: Message
    file_ids: list[int] = Field(default_factory=list, max_length=20)


class AnswerIn(Schema):
    message: Message = Field(description="What the patient reads.")
    assessment: RequiredSection
    plan: RequiredSection
    subjective: Section = ""
    objective: Section = ""


class NoteDraftIn(Schema):
    subjective: Section = ""
    objective: Section = ""
    assessment: Section = ""
    plan: Section = ""


class RequestInfoIn(Schema):
    question: Message


class CloseIn(Schema):
    reason: Reason


class EscalateIn(Schema):
    mode: Literal["video", "audio", "chat", "facilitated"]
    reason: Reason
    when: Literal["now", "scheduled"] = Field(
        default="scheduled",
        description="now: a live visit opens at once with you as its clinician (video, audio "
        "or chat); scheduled: the patient is offered times with you or any eligible clinician",
    )


class CaseMessageIn(Schema):
    text: Message


class EscalationOut(Schema):
    id: int
    mode: str
    status: str
    requested_at: dt.datetime
    by_red_flag: bool
    visit_id: int | None
    visit_status: str | None
    wait_url: str | None = Field(description="The patient's way into the visit (open visits)")
    room_url: str | None
    appointment_id: int | None
    appointment_starts_at: dt.datetime | None
    booking_url: str | None = Field(description="Where the patient books (not yet booked)")


class AttachmentOut(Schema):
    id: int
    file_id: int
    link_id: str
    kind: str
    content_type: str
    url: str
    thumbnail_url: str | None
    created_at: dt.datetime


class MessageOut(Schema):
    id: int
    kind: str
    body: str
    author: str
    created_at: dt.datetime
    attachments: list[AttachmentOut]


class ClinicianAnswerOut(Schema):
    clinician: str
    assessment: str
    plan: str
    signed_at: dt.datetime | None
    amendments: list[str]


class CaseOut(Schema):
    id: int
    status: CaseStatus
    service_line: str
    service_line_name: str
    questionnaire_id: int
    state_at_submission: UsState
    answers: dict[str, Any]
    attachments: list[AttachmentOut]
    messages: list[MessageOut]
    red_flag_outcome: RedFlagOutcome
    red_flag_message: str
    needs_live_visit: bool
    escalations: list[EscalationOut]
    answer: ClinicianAnswerOut | None
    episode_id: int | None
    encounter_id: int | None
    created_at: dt.datetime
    draft_saved_at: dt.datetime
    submitted_at: dt.datetime | None
    answered_at: dt.datetime | None
    closed_at: dt.datetime | None


class CaseSummaryOut(Schema):
    id: int
    status: CaseStatus
    service_line: str
    service_line_name: str
    created_at: dt.datetime
    submitted_at: dt.datetime | None


def attachment_out(attachment: CaseAttachment) -> AttachmentOut:
    file = attachment.file
    return AttachmentOut(
        id=attachment.pk,
        file_id=file.pk,
        link_id=attachment.link_id,
        kind=file.kind,
        content_type=file.content_type,
        url=f"/files/{file.pk}/",
        thumbnail_url=f"/files/{file.pk}/thumbnail/" if file.thumbnail_key else None,
        created_at=attachment.created_at,
    )


def message_out(message: CaseMessage) -> MessageOut:
    return MessageOut(
        id=message.pk,
        kind=message.kind,
        body=message.body,
        author=message.author.display_name,
        created_at=message.created_at,
        attachments=[attachment_out(a) for a in message.attachments.all()],
    )


def escalation_out(escalation: CaseEscalation) -> EscalationOut:
    request, visit, appointment = escalation.request, escalation.visit, escalation.appointment
    live = visit is not None and visit.is_live
    return EscalationOut(
        id=request.pk,
        mode=request.mode_wanted,
        status=request.status,
        requested_at=request.requested_at,
        by_red_flag=request.requested_by_id is None,
        visit_id=visit.pk if visit else None,
        visit_status=visit.status if visit else None,
        wait_url=f"/visits/{visit.pk}/wait/" if visit and live else None,
        room_url=f"/visits/{visit.pk}/" if visit and live else None,
        appointment_id=appointment.pk if appointment else None,
        appointment_starts_at=appointment.starts_at if appointment else None,
        booking_url=escalation.booking_url if escalation.waiting_for_booking else None,
    )


def case_out(
    case: Case,
    attachments: list[CaseAttachment],
    messages: list[CaseMessage],
    note: ClinicalNote | None,
    escalations: list[CaseEscalation] | None = None,
) -> CaseOut:
    answer = None
    if note is not None:
        answer = ClinicianAnswerOut(
            clinician=note.author.display_name,
            assessment=note.assessment,
            plan=note.plan,
            signed_at=note.signed_at,
            amendments=[a.text for a in note.amendments.all()],
        )
    return CaseOut(
        id=case.pk,
        status=CaseStatus(case.status),
        service_line=case.service_line.code,
        service_line_name=case.service_line.name,
        questionnaire_id=case.questionnaire_id,
        state_at_submission=UsState(case.state_at_submission),
        answers=case.answers if isinstance(case.answers, dict) else {},
        attachments=[attachment_out(a) for a in attachments if a.message_id is None],
        messages=[message_out(m) for m in messages],
        red_flag_outcome=RedFlagOutcome(case.red_flag_outcome),
        red_flag_message=case.red_flag_message,
        needs_live_visit=case.needs_live_visit,
        escalations=[escalation_out(item) for item in escalations or []],
        answer=answer,
        episode_id=case.episode_id,
        encounter_id=case.encounter_id,
        created_at=case.created_at,
        draft_saved_at=case.draft_saved_at,
        submitted_at=case.submitted_at,
        answered_at=case.answered_at,
        closed_at=case.closed_at,
    )


def case_summary_out(case: Case) -> CaseSummaryOut:
    return CaseSummaryOut(
        id=case.pk,
        status=CaseStatus(case.status),
        service_line=case.service_line.code,
        service_line_name=case.service_line.name,
        created_at=case.created_at,
        submitted_at=case.submitted_at,
    )
