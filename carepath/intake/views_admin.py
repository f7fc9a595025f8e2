"""Admin pages for service lines and questionnaires:

/staff/admin/intake/service-lines/                 list
/staff/admin/intake/service-lines/new/             create
/staff/admin/intake/service-lines/<id>/            edit (red-flag rules as JSON, checked)
/staff/admin/intake/questionnaires/                list of versions
/staff/admin/intake/questionnaires/import/         paste JSON, see errors, save a version
/staff/admin/intake/questionnaires/<id>/           one version; edit = save the next one"""

import json
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render

from carepath.accounts.models import Role, Specialty
from carepath.core.decorators import request_user, role_required
from carepath.core.errors import ActionRefused
from carepath.intake import actions
from carepath.intake.forms import QuestionnaireImportForm, ServiceLineForm
from carepath.intake.models import Questionnaire, ServiceLine
from carepath.intake.questionnaires import FieldsRefused


def _line_form(data: Any = None, initial: dict[str, Any] | None = None) -> ServiceLineForm:
    return ServiceLineForm(
        data,
        initial=initial,
        questionnaires=[(q.pk, str(q)) for q in Questionnaire.objects.order_by("code", "-version")],
        specialties=[(s.code, s.name) for s in Specialty.objects.all()],
    )


@role_required(Role.ADMIN)
def service_lines(request: HttpRequest) -> HttpResponse:
    lines = ServiceLine.objects.select_related("specialty", "questionnaire")
    return render(request, "intake/admin_service_lines.html", {"lines": lines})


@role_required(Role.ADMIN)
def service_line_edit(request: HttpRequest, line_id: int | None = None) -> HttpResponse:
    line = None
    initial: dict[str, Any] = {"red_flag_rules": "[]", "active": True, "allowed_modes": ["async"]}
    if line_id is not None:
        line = ServiceLine.objects.filter(pk=line_id).first()
        if line is None:
            raise Http404("No such service line.")
        initial = {
            "code": line.code,
            "name": line.name,
            "description": line.description,
            "questionnaire": line.questionnaire_id,
            "sla_minutes": line.sla_minutes,
            "specialty": line.specialty.code,
            "allowed_modes": line.allowed_modes,
            "red_flag_rules": json.dumps(line.red_flag_rules, indent=2),
            "active": line.active,
        }
    form = _line_form(request.POST or None, initial)
    problems: list[dict[str, str]] = []
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            rules = json.loads(data["red_flag_rules"] or "[]")
        except json.JSONDecodeError as exc:
            form.add_error("red_flag_rules", f"Not valid JSON: {exc.msg} (line {exc.lineno}).")
        else:
            try:
                saved = actions.do_save_service_line(
                    request_user(request),
                    line,
                    code=data["code"],
                    name=data["name"],
                    description=data["description"],
                    questionnaire=Questionnaire.objects.filter(pk=data["questionnaire"]).first(),
                    sla_minutes=data["sla_minutes"],
                    specialty=Specialty.objects.filter(code=data["specialty"]).first(),
                    allowed_modes=list(data["allowed_modes"]),
                    red_flag_rules=rules,
                    active=data["active"],
                )
            except FieldsRefused as refused:
                problems = refused.fields
            except ActionRefused as refused:
                problems = [{"field": refused.field, "message": refused.message}]
            else:
                messages.success(request, f"Saved {saved.name}.")
                return HttpResponseRedirect("/staff/admin/intake/service-lines/")
    return render(
        request,
        "intake/admin_service_line_form.html",
        {"form": form, "line": line, "problems": problems},
        status=400 if form.errors or problems else 200,
    )


@role_required(Role.ADMIN)
def questionnaires(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "intake/admin_questionnaires.html",
        {"questionnaires": Questionnaire.objects.order_by("code", "-version")[:500]},
    )


@role_required(Role.ADMIN)
def questionnaire_import(request: HttpRequest, questionnaire_id: int | None = None) -> HttpResponse:
    """Paste a definition, see every problem with its path, save it as the next version."""
    base = None
    initial: dict[str, Any] = {}
    if questionnaire_id is not None:
        base = Questionnaire.objects.filter(pk=questionnaire_id).first()
        if base is None:
            raise Http404("No such questionnaire.")
        initial = {
            "code": base.code,
            "title": base.title,
            "definition": json.dumps(base.definition, indent=2),
        }
    form = QuestionnaireImportForm(request.POST or None, initial=initial)
    problems: list[dict[str, str]] = []
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            definition = json.loads(data["definition"])
        except json.JSONDecodeError as exc:
            problems = [
                {
                    "field": "definition",
                    "message": f"Not valid JSON: {exc.msg} (line {exc.lineno}).",
                }
            ]
        else:
            try:
                saved = actions.do_import_questionnaire(
                    request_user(request),
                    code=data["code"],
                    title=data["title"],
                    definition=definition,
                )
            except FieldsRefused as refused:
                problems = refused.fields
            except ActionRefused as refused:
                problems = [{"field": refused.field, "message": refused.message}]
            else:
                messages.success(
                    request,
                    f"Saved {saved.code} version {saved.version}. Point a service line at it "
                    "to use it.",
                )
                return HttpResponseRedirect(f"/staff/admin/intake/questionnaires/{saved.pk}/")
    return render(
        request,
        "intake/admin_questionnaire_form.html",
        {"form": form, "base": base, "problems": problems},
        status=400 if form.errors or problems else 200,
    )
