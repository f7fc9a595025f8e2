"""/api/v1/intake: service lines, questionnaires, and asynchronous cases (patients submit;
clinicians who claimed the case in the queue review it). Creates accept Idempotency-Key."""

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Router, Status

from carepath.accounts.models import Role, Specialty
from carepath.accounts.permissions import check_role
from carepath.consent.selectors import check_care_consent
from carepath.core.api import api, current_user, only
from carepath.core.errors import ActionRefused
from carepath.core.idempotency import idempotency_key, idempotent
from carepath.core.responses import error_response
from carepath.core.us_states import UsState
from carepath.intake import actions
from carepath.intake.fhir import questionnaire_resource
from carepath.intake.models import Case, Questionnaire, ServiceLine
from carepath.intake.questionnaires import FieldsRefused
from carepath.intake.schemas import (
    AnswerIn,
    AttachIn,
    AttachmentOut,
    AvailabilityOut,
    CaseCreateIn,
    CaseMessageIn,
    CaseOut,
    CaseSummaryOut,
    CloseIn,
    DraftIn,
    EscalateIn,
    NoteDraftIn,
    QuestionnaireIn,
    QuestionnaireOut,
    ReplyIn,
    RequestInfoIn,
    ServiceLineAdminOut,
    ServiceLineIn,
    ServiceLineOut,
    attachment_out,
    case_out,
    case_summary_out,
    questionnaire_out,
    service_line_admin_out,
    service_line_out,
)
from carepath.intake.selectors import (
    access_case,
    active_service_lines,
    attachments_of,
    cases_of_patient,
    clinician_available,
    escalations_of,
    messages_of,
    service_line_by_code,
    signed_answer_note,
)

router = Router(tags=["intake"])

PATIENT = frozenset({Role.PATIENT})
CLINICIAN = frozenset({Role.CLINICIAN})
ADMIN = frozenset({Role.ADMIN})


def on_fields_refused(request: HttpRequest, exc: object) -> HttpResponse:
    assert isinstance(exc, FieldsRefused)
    return error_response(exc.status, exc.code, exc.message, exc.fields)


api.add_exception_handler(FieldsRefused, on_fields_refused)


def full_case_out(case: Case) -> CaseOut:
    return case_out(
        case,
        attachments_of(case),
        messages_of(case),
        signed_answer_note(case),
        escalations_of(case),
    )


def _case_body(case: Case) -> dict[str, Any]:
    return full_case_out(case).model_dump(mode="json")


def _line(code: str) -> ServiceLine:
    line = service_line_by_code(code)
    if line is None:
        raise ActionRefused(
            "unknown_service_line",
            "No service line with that code.",
            field="service_line",
            status=422,
        )
    return line


# --- Service lines and questionnaires ----------------------------------------------------------


@router.get("/service-lines", response=list[ServiceLineOut], summary="Services offered online")
def list_service_lines(request: HttpRequest) -> list[ServiceLineOut]:
    return [service_line_out(line) for line in active_service_lines()]


@router.get(
    "/service-lines/{code}/availability",
    response=AvailabilityOut,
    summary="Is a clinician licensed in this state offering this service today?",
)
def availability(request: HttpRequest, code: str, state: UsState) -> AvailabilityOut:
    line = _line(code)
    available = clinician_available(line, state)
    return AvailabilityOut(
        service_line=line.code,
        state=state,
        available=available,
        message=""
        if available
        else f"No clinician licensed in {state.label} offers {line.name} online today.",
    )


@router.get(
    "/admin/service-lines",
    response=list[ServiceLineAdminOut],
    summary="All service lines with their red-flag rules (admin)",
    auth=only(Role.ADMIN),
)
def admin_service_lines(request: HttpRequest) -> list[ServiceLineAdminOut]:
    check_role(current_user(request), ADMIN, "service_line.list")
    lines = ServiceLine.objects.select_related("specialty", "questionnaire")
    return [service_line_admin_out(line) for line in lines]


def _save_line(
    request: HttpRequest, line: ServiceLine | None, payload: ServiceLineIn
) -> ServiceLine:
    admin = current_user(request)
    check_role(admin, ADMIN, "service_line.save")
    return actions.do_save_service_line(
        admin,
        line,
        code=payload.code,
        name=payload.name,
        description=payload.description,
        questionnaire=Questionnaire.objects.filter(pk=payload.questionnaire_id).first(),
        sla_minutes=payload.sla_minutes,
        specialty=Specialty.objects.filter(code=payload.specialty).first(),
        allowed_modes=list(payload.allowed_modes),
        red_flag_rules=payload.red_flag_rules,
        active=payload.active,
    )


@router.post(
    "/admin/service-lines",
    response={201: ServiceLineAdminOut},
    summary="Create a service line (admin)",
    auth=only(Role.ADMIN),
)
def create_service_line(
    request: HttpRequest, payload: ServiceLineIn
) -> Status[ServiceLineAdminOut]:
    return Status(201, service_line_admin_out(_save_line(request, None, payload)))


@router.put(
    "/admin/service-lines/{code}",
    response=ServiceLineAdminOut,
    summary="Update a service line (admin)",
    auth=only(Role.ADMIN),
)
def update_service_line(
    request: HttpRequest, code: str, payload: ServiceLineIn
) -> ServiceLineAdminOut:
    check_role(current_user(request), ADMIN, "service_line.save")
    line = ServiceLine.objects.filter(code=code).first()
    if line is None:
        raise ActionRefused("not_found", "No service line with that code.", status=404)
    return service_line_admin_out(_save_line(request, line, payload))


@router.get("/questionnaires", response=list[QuestionnaireOut], summary="Questionnaire versions")
def list_questionnaires(request: HttpRequest) -> list[QuestionnaireOut]:
    return [questionnaire_out(q) for q in Questionnaire.objects.all()[:500]]


def _questionnaire(questionnaire_id: int) -> Questionnaire:
    questionnaire = Questionnaire.objects.filter(pk=questionnaire_id).first()
    if questionnaire is None:
        raise ActionRefused("not_found", "No questionnaire with that id.", status=404)
    return questionnaire


@router.get("/questionnaires/{questionnaire_id}", response=QuestionnaireOut)
def get_questionnaire(request: HttpRequest, questionnaire_id: int) -> QuestionnaireOut:
    return questionnaire_out(_questionnaire(questionnaire_id))


@router.get(
    "/questionnaires/{questionnaire_id}/fhir",
    response=dict[str, Any],
    summary="The questionnaire as a FHIR R4 Questionnaire resource",
)
def get_questionnaire_fhir(request: HttpRequest, questionnaire_id: int) -> dict[str, Any]:
    return questionnaire_resource(_questionnaire(questionnaire_id))


@router.post(
    "/questionnaires",
    response={201: QuestionnaireOut},
    summary="Import a definition as the next version of its code (admin); 422 lists problems",
    auth=only(Role.ADMIN),
)
def import_questionnaire(
    request: HttpRequest, payload: QuestionnaireIn
) -> Status[QuestionnaireOut]:
    admin = current_user(request)
    check_role(admin, ADMIN, "questionnaire.import")
    questionnaire = actions.do_import_questionnaire(
        admin, code=payload.code, title=payload.title, definition=payload.definition
    )
    return Status(201, questionnaire_out(questionnaire))


# --- Patient: cases ----------------------------------------------------------------------------


@router.post(
    "/cases",
    response={201: CaseOut},
    summary="Start a case (a draft), or with submit=true submit it at once. Idempotency-Key.",
    auth=only(Role.PATIENT),
)
def create_case(request: HttpRequest, payload: CaseCreateIn) -> Status[dict[str, Any]]:
    patient = current_user(request)
    check_role(patient, PATIENT, "case.create")
    check_care_consent(patient)
    key = idempotency_key(request)

    def create() -> tuple[int, Any]:
        line = _line(payload.service_line)
        case = actions.do_start_case(patient, line, payload.state)
        if payload.answers:
            case = actions.do_save_draft(patient, case, payload.answers)
        if payload.submit:
            case = actions.do_submit_case(patient, case)
        return 201, _case_body(case)

    status, body = idempotent(
        patient, key, "intake.case.create", payload.model_dump(mode="json"), create
    )
    return Status(status, body)


@router.get(
    "/cases",
    response=list[CaseSummaryOut],
    summary="My cases (patient)",
    auth=only(Role.PATIENT),
)
def list_cases(request: HttpRequest) -> list[CaseSummaryOut]:
    patient = current_user(request)
    check_role(patient, PATIENT, "case.list")
    return [case_summary_out(case) for case in cases_of_patient(patient)[:200]]


@router.get("/cases/{case_id}", response=CaseOut, summary="One case (its patient, or staff)")
def get_case(request: HttpRequest, case_id: int) -> CaseOut:
    return full_case_out(access_case(current_user(request), case_id))


def _own_case(request: HttpRequest, case_id: int, action: str) -> tuple[Any, Case]:
    patient = current_user(request)
    check_role(patient, PATIENT, action)
    return patient, access_case(patient, case_id, action=action)


@router.put(
    "/cases/{case_id}/draft",
    response=CaseOut,
    summary="Save the draft's answers",
    auth=only(Role.PATIENT),
)
def save_draft(request: HttpRequest, case_id: int, payload: DraftIn) -> CaseOut:
    patient, case = _own_case(request, case_id, "case.save_draft")
    case = actions.do_save_draft(patient, case, payload.answers, state=payload.state)
    return full_case_out(case)


@router.post(
    "/cases/{case_id}/attachments",
    response={201: AttachmentOut},
    summary="Attach a file uploaded through /api/v1/files (link_id: the photo question)",
    auth=only(Role.PATIENT),
)
def attach(request: HttpRequest, case_id: int, payload: AttachIn) -> Status[AttachmentOut]:
    patient, case = _own_case(request, case_id, "case.attach")
    attachment = actions.do_attach_file(patient, case, payload.file_id, link_id=payload.link_id)
    return Status(201, attachment_out(attachment))


@router.post(
    "/cases/{case_id}/submit",
    response=CaseOut,
    summary="Submit the draft: answers are checked, red flags applied. Idempotency-Key.",
    auth=only(Role.PATIENT),
)
def submit(request: HttpRequest, case_id: int) -> Status[dict[str, Any]]:
    patient, case = _own_case(request, case_id, "case.submit")
    key = idempotency_key(request)

    def create() -> tuple[int, Any]:
        return 200, _case_body(actions.do_submit_case(patient, case))

    status, body = idempotent(patient, key, "intake.case.submit", {"case_id": case_id}, create)
    return Status(status, body)


@router.post(
    "/cases/{case_id}/reply",
    response=CaseOut,
    summary="Answer the clinician's request for more information, or write after a live visit "
    "(follow-up) (patient)",
    auth=only(Role.PATIENT),
)
def reply(request: HttpRequest, case_id: int, payload: ReplyIn) -> CaseOut:
    patient, case = _own_case(request, case_id, "case.reply")
    actions.do_reply_to_case(patient, case, payload.text, file_ids=payload.file_ids)
    return full_case_out(access_case(patient, case_id))


# --- Clinician: review -------------------------------------------------------------------------


def _review_case(request: HttpRequest, case_id: int, action: str) -> tuple[Any, Case]:
    clinician = current_user(request)
    check_role(clinician, CLINICIAN, action)
    return clinician, access_case(clinician, case_id, action=action)


@router.put(
    "/cases/{case_id}/note",
    response=CaseOut,
    summary="Save the review's SOAP note draft",
    auth=only(Role.CLINICIAN),
)
def save_note(request: HttpRequest, case_id: int, payload: NoteDraftIn) -> CaseOut:
    clinician, case = _review_case(request, case_id, "case.note")
    actions.do_save_review_note(clinician, case, **payload.model_dump())
    return full_case_out(case)


@router.post(
    "/cases/{case_id}/answer",
    response=CaseOut,
    summary="Answer: signs the SOAP note, tells the patient, completes the work item",
    auth=only(Role.CLINICIAN),
)
def answer(request: HttpRequest, case_id: int, payload: AnswerIn) -> CaseOut:
    clinician, case = _review_case(request, case_id, "case.answer")
    actions.do_answer_case(clinician, case, **payload.model_dump())
    return full_case_out(access_case(clinician, case_id))


@router.post(
    "/cases/{case_id}/request-info",
    response=CaseOut,
    summary="Ask the patient for more information (parks the case until they reply)",
    auth=only(Role.CLINICIAN),
)
def request_info(request: HttpRequest, case_id: int, payload: RequestInfoIn) -> CaseOut:
    clinician, case = _review_case(request, case_id, "case.request_info")
    actions.do_request_info(clinician, case, payload.question)
    return full_case_out(access_case(clinician, case_id))


@router.post(
    "/cases/{case_id}/close",
    response=CaseOut,
    summary="Close the case",
    auth=only(Role.CLINICIAN),
)
def close(request: HttpRequest, case_id: int, payload: CloseIn) -> CaseOut:
    clinician, case = _review_case(request, case_id, "case.close")
    actions.do_close_case(clinician, case, payload.reason)
    return full_case_out(access_case(clinician, case_id))


@router.post(
    "/cases/{case_id}/escalate",
    response=CaseOut,
    summary="Escalate to a live visit in the same episode: now (an on-demand visit opens with "
    "you; the patient is called to it) or scheduled (the patient books a time)",
    auth=only(Role.CLINICIAN),
)
def escalate(request: HttpRequest, case_id: int, payload: EscalateIn) -> CaseOut:
    clinician, case = _review_case(request, case_id, "case.escalate")
    actions.do_escalate_case(
        clinician, case, mode=payload.mode, reason=payload.reason, when=payload.when
    )
    return full_case_out(access_case(clinician, case_id))


@router.post(
    "/cases/{case_id}/messages",
    response={201: CaseOut},
    summary="Write to the patient in the case after its live visit (follow-up)",
    auth=only(Role.CLINICIAN),
)
def message_patient(request: HttpRequest, case_id: int, payload: CaseMessageIn) -> Status[CaseOut]:
    clinician, case = _review_case(request, case_id, "case.message")
    actions.do_message_patient(clinician, case, payload.text)
    return Status(201, full_case_out(access_case(clinician, case_id)))
