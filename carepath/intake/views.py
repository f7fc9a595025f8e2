"""The patient's online-visit pages, phone first, working without JavaScript:

/patient/visits/                         my visits
/patient/visits/new/                     1. choose a service line
/patient/visits/new/<code>/              2. confirm the state I am in now (stops plainly if no
                                            clinician is licensed there today)
                                         3. consent gate (consent_required on what follows)
/patient/visits/<id>/questions/          4. the questionnaire (autosaved as I type)
/patient/visits/<id>/photos/             5. photos and documents
/patient/visits/<id>/review/             6. review and submit
/patient/visits/<id>/                    status, the clinician's answer, my reply"""

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from carepath.accounts.models import PatientProfile, Role, User
from carepath.core.decorators import consent_required, request_user, role_required
from carepath.core.errors import ActionRefused
from carepath.core.idempotency import idempotent
from carepath.core.responses import error_response
from carepath.intake import actions
from carepath.intake.forms import (
    ReplyForm,
    ServiceLineChoiceForm,
    StateForm,
    UploadForm,
    build_nodes,
    parse_answers,
    summary_rows,
)
from carepath.intake.models import Case, CaseStatus, MessageKind, RedFlagOutcome
from carepath.intake.questionnaires import FieldsRefused, attachment_link_ids, check_answers
from carepath.intake.red_flags import emergency_flag, emergency_rules_json
from carepath.intake.selectors import (
    CaseEscalation,
    access_case,
    active_service_lines,
    attachments_of,
    case_work_item,
    cases_of_patient,
    emergency_awaits_live_visit,
    escalations_of,
    live_visit_of,
    messages_of,
    service_line_by_code,
    signed_answer_note,
    visit_notes_of,
)
from carepath.workqueue.models import WorkItemStatus

STEPS = ["Service", "Your state", "Questions", "Photos", "Review"]


def _patient_case(
    request: HttpRequest, case_id: int, action: str = "case.read"
) -> tuple[User, Case]:
    patient = request_user(request)
    return patient, access_case(patient, case_id, action=action)


def _draft_or_status(case: Case) -> HttpResponse | None:
    if case.status != CaseStatus.DRAFT:
        return HttpResponseRedirect(f"/patient/visits/{case.pk}/")
    return None


@role_required(Role.PATIENT)
def visit_list(request: HttpRequest) -> HttpResponse:
    patient = request_user(request)
    cases = list(cases_of_patient(patient)[:100])
    return render(request, "intake/visit_list.html", {"cases": cases})


@role_required(Role.PATIENT)
def choose_service(request: HttpRequest) -> HttpResponse:
    lines = [line for line in active_service_lines() if "async" in (line.allowed_modes or [])]
    form = ServiceLineChoiceForm(
        request.POST or None, lines=[(line.code, line.name) for line in lines]
    )
    if request.method == "POST" and form.is_valid():
        return HttpResponseRedirect(f"/patient/visits/new/{form.cleaned_data['service_line']}/")
    return render(
        request,
        "intake/choose_service.html",
        {"form": form, "lines": lines, "steps": STEPS, "step": 1},
        status=400 if form.errors else 200,
    )


@role_required(Role.PATIENT)
def confirm_state(request: HttpRequest, code: str) -> HttpResponse:
    patient = request_user(request)
    line = service_line_by_code(code)
    if line is None:
        raise Http404("No such service.")
    profile = PatientProfile.objects.filter(user=patient).first()
    initial = {"state": request.GET.get("state") or (profile.state if profile else "")}
    form = StateForm(request.POST or None, initial=initial)
    unavailable = ""
    if request.method == "POST" and form.is_valid():
        try:
            case = actions.do_start_case(patient, line, form.cleaned_data["state"], resume=True)
        except ActionRefused as refused:
            if refused.code == "no_clinician_in_state":
                unavailable = refused.message
            else:
                form.add_error(refused.field or None, refused.message)
        else:
            return HttpResponseRedirect(f"/patient/visits/{case.pk}/questions/")
    return render(
        request,
        "intake/confirm_state.html",
        {"form": form, "line": line, "unavailable": unavailable, "steps": STEPS, "step": 2},
        status=400 if form.errors else 200,
    )


def _has_attachment_items(case: Case) -> bool:
    return bool(attachment_link_ids(case.questionnaire))


@role_required(Role.PATIENT)
@consent_required
def questions(request: HttpRequest, case_id: int) -> HttpResponse:
    patient, case = _patient_case(request, case_id)
    if (redirect := _draft_or_status(case)) is not None:
        return redirect
    definition = case.questionnaire.definition
    errors: list[dict[str, str]] = []
    answers: Any = case.answers
    if request.method == "POST":
        answers = parse_answers(definition, request.POST, case.answers)
        try:
            case = actions.do_save_draft(patient, case, answers)
        except ActionRefused as refused:
            errors = [{"field": refused.field or "answers", "message": refused.message}]
        else:
            if "add_instance" in request.POST or "remove_instance" in request.POST:
                return HttpResponseRedirect(request.path)
            errors = check_answers(case.questionnaire, answers, skip_types=["attachment"])
            if not errors:
                next_step = "photos" if _has_attachment_items(case) else "review"
                return HttpResponseRedirect(f"/patient/visits/{case.pk}/{next_step}/")
    rules = case.service_line.red_flag_rules
    flag = emergency_flag(rules, definition, answers)
    return render(
        request,
        "intake/questions.html",
        {
            "case": case,
            "emergency_rules": emergency_rules_json(rules),
            "emergency_message": flag.message if flag else "",
            "nodes": build_nodes(definition, answers, errors),
            "errors": errors,
            "steps": STEPS,
            "step": 3,
        },
        status=400 if errors else 200,
    )


@role_required(Role.PATIENT)
@consent_required
@require_POST
def autosave(request: HttpRequest, case_id: int) -> HttpResponse:
    """The questions page's script posts the form here as the patient types."""
    patient, case = _patient_case(request, case_id, action="case.autosave")
    if case.status != CaseStatus.DRAFT:
        return error_response(409, "not_draft", "This visit was already submitted.")
    answers = parse_answers(case.questionnaire.definition, request.POST, case.answers)
    try:
        case = actions.do_save_draft(patient, case, answers)
    except ActionRefused as refused:
        return error_response(refused.status, refused.code, refused.message)
    return JsonResponse({"saved_at": case.draft_saved_at.isoformat()})


@role_required(Role.PATIENT)
@consent_required
def photos(request: HttpRequest, case_id: int) -> HttpResponse:
    patient, case = _patient_case(request, case_id)
    if (redirect := _draft_or_status(case)) is not None:
        return redirect
    upload_error: dict[str, str] = {}
    status = 200
    if request.method == "POST" and "remove" in request.POST:
        try:
            actions.do_remove_attachment(patient, case, int(request.POST["remove"]))
        except (ValueError, ActionRefused):
            messages.error(request, "That file could not be removed.")
        return HttpResponseRedirect(request.path)
    if request.method == "POST":
        form = UploadForm(request.POST, request.FILES)
        link_id = request.POST.get("link_id", "")[:64]
        if form.is_valid():
            try:
                actions.do_attach_upload(patient, case, form.cleaned_data["file"], link_id=link_id)
            except ActionRefused as refused:
                upload_error = {"link_id": link_id, "message": refused.message}
                status = refused.status if 400 <= refused.status < 500 else 400
            else:
                messages.success(request, "Uploaded.")
                return HttpResponseRedirect(request.path)
        else:
            message = "; ".join(str(e) for errs in form.errors.values() for e in errs)
            upload_error = {"link_id": link_id, "message": message or "Choose a file to upload."}
            status = 400
    attachments = attachments_of(case)
    sections = [
        {
            "link_id": item.link_id,
            "text": item.text,
            "required": item.required,
            "repeats": item.repeats,
            "html_id": f"file-{item.link_id}",
            "files": [a for a in attachments if a.link_id == item.link_id],
        }
        for item in attachment_link_ids(case.questionnaire)
    ]
    sections.append(
        {
            "link_id": "",
            "text": "Other documents (optional)",
            "required": False,
            "repeats": True,
            "html_id": "file-other",
            "files": [a for a in attachments if not a.link_id],
        }
    )
    return render(
        request,
        "intake/photos.html",
        {
            "case": case,
            "sections": sections,
            "upload_error": upload_error,
            "steps": STEPS,
            "step": 4,
        },
        status=status,
    )


@role_required(Role.PATIENT)
@consent_required
def review(request: HttpRequest, case_id: int) -> HttpResponse:
    patient, case = _patient_case(request, case_id)
    errors: list[dict[str, str]] = []
    if request.method == "POST":
        key = request.POST.get("idempotency_key", "")[:255] or None

        def create() -> tuple[int, Any]:
            submitted = actions.do_submit_case(patient, case)
            return 200, {"id": submitted.pk, "status": submitted.status}

        try:
            idempotent(patient, key, "page.case.submit", {"case_id": case.pk}, create)
        except FieldsRefused as refused:
            errors = refused.fields
        except ActionRefused as refused:
            errors = [{"field": refused.field, "message": refused.message}]
        else:
            # A red flag that needs a live visit now takes the patient to its waiting room.
            visit = live_visit_of(access_case(patient, case.pk, action="case.read"))
            if visit is not None:
                return HttpResponseRedirect(f"/visits/{visit.pk}/wait/")
            return HttpResponseRedirect(f"/patient/visits/{case.pk}/")
    elif (redirect := _draft_or_status(case)) is not None:
        return redirect
    else:
        errors = check_answers(case.questionnaire, case.answers, patient_id=patient.pk)
    attachment_ids = {item.link_id for item in attachment_link_ids(case.questionnaire)}
    for error in errors:
        base = error["field"].split("[")[0].split(".")[0]
        error["step"] = "photos" if base in attachment_ids else "questions"
    return render(
        request,
        "intake/review.html",
        {
            "case": case,
            "rows": summary_rows(case.questionnaire.definition, case.answers),
            "attachments": [a for a in attachments_of(case) if not a.link_id],
            "errors": errors,
            "steps": STEPS,
            "step": 5,
        },
        status=400 if errors and request.method == "POST" else 200,
    )


def _live_state(escalations: list[CaseEscalation]) -> str:
    """Where the open live visit stands: "ready" once a clinician has taken it, "queued"
    while it waits for the next available one; empty without an open live visit."""
    for escalation in reversed(escalations):
        if escalation.live_now and escalation.visit is not None:
            return "ready" if escalation.visit.clinician_id else "queued"
    return ""


def _status_page(
    request: HttpRequest, case: Case, reply_form: ReplyForm, status: int = 200
) -> HttpResponse:
    thread = messages_of(case)
    questions_asked = [m for m in thread if m.kind == MessageKind.QUESTION]
    escalations = escalations_of(case)
    emergency = case.red_flag_outcome == RedFlagOutcome.EMERGENCY
    item = case_work_item(case) if emergency else None
    return render(
        request,
        "intake/case_status.html",
        {
            "case": case,
            "rows": summary_rows(case.questionnaire.definition, case.answers),
            "attachments": [
                a for a in attachments_of(case) if not a.link_id and a.message_id is None
            ],
            "thread": thread,
            "last_question": questions_asked[-1] if questions_asked else None,
            "note": signed_answer_note(case),
            "emergency": emergency,
            # Nobody has seen the patient live yet: tell them what happens next.
            "emergency_waiting": emergency and emergency_awaits_live_visit(case),
            "clinician_has_it": item is not None and item.status == WorkItemStatus.CLAIMED,
            "reply_form": reply_form,
            "escalations": escalations,
            "live_state": _live_state(escalations),
            "visit_notes": visit_notes_of(case),
            "follow_up": case.status == CaseStatus.FOLLOW_UP,
        },
        status=status,
    )


@role_required(Role.PATIENT)
def case_status(request: HttpRequest, case_id: int) -> HttpResponse:
    _patient, case = _patient_case(request, case_id)
    if case.status == CaseStatus.DRAFT:
        return HttpResponseRedirect(f"/patient/visits/{case.pk}/questions/")
    return _status_page(request, case, ReplyForm())


@role_required(Role.PATIENT)
@require_POST
def reply(request: HttpRequest, case_id: int) -> HttpResponse:
    """On any problem the page comes back with what the patient wrote still in the box."""
    patient, case = _patient_case(request, case_id, action="case.reply")
    form = ReplyForm(request.POST)
    if form.is_valid():
        try:
            actions.do_reply_to_case(
                patient, case, form.cleaned_data["text"], request.FILES.getlist("files")
            )
        except ActionRefused as refused:
            form.add_error(None, refused.message)
        else:
            messages.success(request, "Thank you. Your message was sent to your clinician.")
            return HttpResponseRedirect(f"/patient/visits/{case.pk}/")
    return _status_page(request, case, form, status=400)
