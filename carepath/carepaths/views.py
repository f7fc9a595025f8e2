"""Care-path pages, phone first, working without JavaScript:

/care-paths/                                   coordinators, admins: every episode on a path
/care-paths/episodes/<episode_id>/             one episode's path and transitions (patients:
                                               their own, in plain words)
/care-paths/definitions/                       admins: the current path of each service line
/care-paths/definitions/<code>/                admins: view (?version=N), edit = a new version
/care-paths/check-ins/                         patients: my check-ins
/care-paths/check-ins/<id>/                    patients: answer (field errors, draft kept)
/care-paths/check-ins/<id>/draft/              patients: autosave (the page's script)
/care-paths/check-ins/<id>/review/             clinicians: answers, mark reviewed / needs visit"""

import json
import re
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from carepath.access.selectors import may_access_patient
from carepath.accounts.models import Role
from carepath.care.models import EpisodeStatus
from carepath.carepaths import actions
from carepath.carepaths.definitions import parse_path
from carepath.carepaths.forms import DefinitionForm, PathFilterForm, ReviewForm
from carepath.carepaths.models import CheckIn
from carepath.carepaths.selectors import (
    OVERVIEW_ROLES,
    PathFilters,
    access_check_in,
    access_episode_path,
    check_ins_of_patient,
    counts_per_step,
    current_definitions,
    definition_of,
    definition_versions,
    holds_check_in,
    list_paths,
    position_steps,
    rows_for,
    service_line_by_code,
    transitions_of,
)
from carepath.core.decorators import consent_required, request_user, role_required
from carepath.core.errors import ActionRefused
from carepath.core.responses import error_response
from carepath.intake.forms import build_nodes, parse_answers, summary_rows
from carepath.intake.models import ServiceLine
from carepath.intake.questionnaires import FieldsRefused, build_tree

# --- Coordinators: where every episode stands --------------------------------------------------


@role_required(Role.COORDINATOR, Role.ADMIN)
def overview(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    lines = [(line.code, line.name) for line in ServiceLine.objects.all()]
    form = PathFilterForm(request.GET or None, lines=lines)
    filters = PathFilters()
    if form.is_valid():
        filters = PathFilters(
            service_line=form.cleaned_data["service_line"],
            step=form.cleaned_data["step"].strip(),
            stuck=form.cleaned_data["stuck"],
        )
    rows = list_paths(user, filters)
    return render(
        request,
        "carepaths/overview.html",
        {
            "form": form,
            "rows": rows,
            "counts": counts_per_step(user, filters.service_line),
            "stuck_count": sum(1 for row in rows if row.stuck),
        },
        status=400 if form.errors else 200,
    )


@role_required(Role.PATIENT, Role.CLINICIAN, Role.TELEFACILITATOR, Role.COORDINATOR, Role.ADMIN)
def episode(request: HttpRequest, episode_id: int) -> HttpResponse:
    user = request_user(request)
    path = access_episode_path(user, episode_id)
    row = rows_for([path])[0]
    patient = user.role == Role.PATIENT
    # Links out only where they lead somewhere: the episode timeline and the patient's record
    # need access to the patient (a coordinator without a care relationship gets none, and is
    # offered break-the-glass when their role allows it).
    may_open_record = may_access_patient(user, path.episode.patient_id)
    return render(
        request,
        "carepaths/episode.html",
        {
            "row": row,
            "path": path,
            "for_patient": patient,
            "transitions": transitions_of(path, include_ignored=not patient),
            "steps": position_steps(row, for_patient=patient),
            "labels": {step.id: step.label for step in row.care_path.ordered},
            "may_open_record": may_open_record,
            "may_break_glass": not patient and not may_open_record and user.can_break_glass,
            "overview_link": user.role in OVERVIEW_ROLES,
            "may_review": user.role == Role.CLINICIAN,
        },
    )


# --- Admins: definitions -----------------------------------------------------------------------


@role_required(Role.ADMIN)
def definitions(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "carepaths/definitions.html",
        {
            "entries": [
                {
                    "line": line,
                    "definition": definition,
                    "path": parse_path(definition.definition) if definition else None,
                }
                for line, definition in current_definitions()
            ]
        },
    )


def _line_or_404(code: str) -> ServiceLine:
    line = service_line_by_code(code)
    if line is None:
        raise Http404("No such service line.")
    return line


def _version(request: HttpRequest) -> int | None:
    raw = request.GET.get("version", "")
    return int(raw) if raw.isdigit() and len(raw) < 9 else None


@role_required(Role.ADMIN)
def definition(request: HttpRequest, code: str) -> HttpResponse:
    """View the current (or ?version=N) path; the form saves a new version. On a problem
    nothing is saved and the text stays as typed, with every problem listed."""
    line = _line_or_404(code)
    shown = definition_of(line, _version(request))
    if shown is None and request.GET.get("version"):
        raise Http404("No such version.")
    initial = {"definition": json.dumps(shown.definition, indent=2) if shown else ""}
    form = DefinitionForm(request.POST or None, initial=initial)
    problems: list[dict[str, str]] = []
    if request.method == "POST" and form.is_valid():
        problems = _save_definition(request, line, form.cleaned_data["definition"])
        if not problems:
            return HttpResponseRedirect(f"/care-paths/definitions/{line.code}/")
    return render(
        request,
        "carepaths/definition.html",
        {
            "line": line,
            "shown": shown,
            "path": parse_path(shown.definition) if shown else None,
            "versions": list(definition_versions(line).order_by("-version")[:50]),
            "form": form,
            "problems": problems,
        },
        status=400 if form.errors or problems else 200,
    )


def _save_definition(request: HttpRequest, line: ServiceLine, text: str) -> list[dict[str, str]]:
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        message = f"Not valid JSON: {exc.msg} (line {exc.lineno})."
        return [{"field": "definition", "message": message}]
    try:
        saved = actions.do_save_definition(request_user(request), line, data)
    except FieldsRefused as refused:
        return refused.fields
    except ActionRefused as refused:
        return [{"field": refused.field, "message": refused.message}]
    messages.success(request, f"Saved version {saved.version} of the {line.name} care path.")
    return []


# --- Patients: check-ins -----------------------------------------------------------------------


@role_required(Role.PATIENT)
def my_check_ins(request: HttpRequest) -> HttpResponse:
    patient = request_user(request)
    return render(request, "carepaths/check_ins.html", {"check_ins": check_ins_of_patient(patient)})


@role_required(Role.PATIENT)
@consent_required
def answer_check_in(request: HttpRequest, check_in_id: int) -> HttpResponse:
    patient = request_user(request)
    check_in = access_check_in(patient, check_in_id)
    definition = check_in.questionnaire.definition
    if not check_in.is_pending or check_in.episode.status != EpisodeStatus.OPEN:
        return _answered_page(request, check_in)
    errors: list[dict[str, str]] = []
    answers: Any = check_in.answers
    if request.method == "POST":
        answers = parse_answers(definition, request.POST, check_in.answers)
        errors = _submit_answers(request, check_in, answers)
        if not errors:
            if not _changes_entries(request):
                messages.success(request, "Thank you. Your answers were sent to your care team.")
            return HttpResponseRedirect(request.path)
    return render(
        request,
        "carepaths/check_in.html",
        {
            "check_in": check_in,
            "nodes": build_nodes(definition, answers, errors),
            "errors": _with_questions(definition, errors),
        },
        status=400 if errors else 200,
    )


def _with_questions(definition: Any, errors: list[dict[str, str]]) -> list[dict[str, str]]:
    """Name the question in the error summary (fields are answer paths: `meds[0].dose`)."""
    by_link_id = build_tree(definition).by_link_id
    named = []
    for error in errors:
        link_id = re.sub(r"\[\d+\]", "", error.get("field", "")).split(".")[-1]
        item = by_link_id.get(link_id)
        named.append({**error, "question": item.text if item is not None else ""})
    return named


def _changes_entries(request: HttpRequest) -> bool:
    """ "Add another" / "Remove" on a repeating group: save and show the page again."""
    return "add_instance" in request.POST or "remove_instance" in request.POST


def _submit_answers(request: HttpRequest, check_in: CheckIn, answers: Any) -> list[dict[str, str]]:
    """Keep the draft first (nothing typed is lost), then answer if everything is there."""
    patient = request_user(request)
    try:
        check_in = actions.do_save_check_in_draft(patient, check_in, answers)
        if not _changes_entries(request):
            actions.do_answer_check_in(patient, check_in, answers)
    except FieldsRefused as refused:
        return refused.fields
    except ActionRefused as refused:
        return [{"field": refused.field or "answers", "message": refused.message}]
    return []


def _answered_page(request: HttpRequest, check_in: CheckIn) -> HttpResponse:
    """Answered, cancelled, or closed with its episode: what happened, no form (answers sent
    to a closed one are refused: 409 with the reason)."""
    closed = check_in.answered_at is None and check_in.cancelled_at is None
    return render(
        request,
        "carepaths/check_in_done.html",
        {
            "check_in": check_in,
            "closed": closed,
            "closed_message": actions.EPISODE_CLOSED_MESSAGE,
            "rows": summary_rows(check_in.questionnaire.definition, check_in.answers)
            if check_in.answered_at
            else [],
        },
        status=409 if closed and request.method == "POST" else 200,
    )


@role_required(Role.PATIENT)
@consent_required
@require_POST
def autosave(request: HttpRequest, check_in_id: int) -> HttpResponse:
    patient = request_user(request)
    check_in = access_check_in(patient, check_in_id, action="check_in.autosave")
    answers = parse_answers(check_in.questionnaire.definition, request.POST, check_in.answers)
    try:
        check_in = actions.do_save_check_in_draft(patient, check_in, answers)
    except ActionRefused as refused:
        return error_response(refused.status, refused.code, refused.message)
    saved_at = check_in.draft_saved_at
    return JsonResponse({"saved_at": saved_at.isoformat() if saved_at else ""})


# --- Clinicians: review ------------------------------------------------------------------------


@role_required(Role.CLINICIAN)
def review_check_in(request: HttpRequest, check_in_id: int) -> HttpResponse:
    clinician = request_user(request)
    check_in = access_check_in(clinician, check_in_id, action="check_in.review_page")
    form = ReviewForm(request.POST if request.method == "POST" else None)
    refusal = ""
    if request.method == "POST" and form.is_valid():
        try:
            actions.do_review_check_in(
                clinician,
                check_in,
                needs_visit=form.cleaned_data["needs_visit"],
                reason=form.cleaned_data["reason"],
            )
        except ActionRefused as refused:
            if refused.field:
                form.add_error(refused.field, refused.message)
            else:
                refusal = refused.message
        else:
            messages.success(request, "Check-in reviewed.")
            return HttpResponseRedirect(request.path)
    item = check_in.work_item
    return render(
        request,
        "carepaths/check_in_review.html",
        {
            "check_in": check_in,
            "rows": summary_rows(check_in.questionnaire.definition, check_in.answers)
            if check_in.answered_at
            else [],
            "form": form,
            "refusal": refusal,
            "item": item,
            "held": holds_check_in(clinician, check_in),
        },
        status=400 if form.errors or refusal else 200,
    )
