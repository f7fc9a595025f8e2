"""Allergies and the medication list:

health/                                   the patient's "My health"
patients/<id>/health/                     the same for a clinician with a care relationship
patients/<id>/allergies/add/              POST
allergies/<id>/end/                       POST
patients/<id>/medications/add/            POST
medications/<id>/stop/                    POST"""

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_POST

from carepath.access.selectors import access_patient
from carepath.accounts.models import Role, User
from carepath.core.decorators import consent_required, request_user, role_required
from carepath.core.errors import ActionRefused
from carepath.prescribing import actions_health
from carepath.prescribing.forms import AllergyForm, EndAllergyForm, StatementForm, StopForm
from carepath.prescribing.handoff import preferred_pharmacy
from carepath.prescribing.selectors import (
    access_allergy,
    access_statement,
    allergies_of,
    medication_list_of,
)
from carepath.prescribing.views import refused_on

EDITORS = (Role.PATIENT, Role.CLINICIAN)


def health_url(user: User, patient_id: int) -> str:
    if user.role == Role.PATIENT:
        return "/prescriptions/health/"
    return f"/prescriptions/patients/{patient_id}/health/"


def end_allergy_prefix(allergy_id: int) -> str:
    """Each row's form has its own prefix, so its field ids (and labels) are its own."""
    return f"end-allergy-{allergy_id}"


def stop_prefix(statement_id: int) -> str:
    return f"stop-medication-{statement_id}"


def _row_form[F: forms.Form](form_class: type[F], prefix: str, error_form: forms.Form | None) -> F:
    """The row's blank form, or the form that just failed there (with what was typed)."""
    if isinstance(error_form, form_class) and error_form.prefix == prefix:
        return error_form
    return form_class(prefix=prefix)


def _render(
    request: HttpRequest, patient_id: int, status: int = 200, **forms_given: forms.Form
) -> HttpResponse:
    user = request_user(request)
    patient = access_patient(user, patient_id, action="health.read").user
    error_form = forms_given.get("error_form")
    allergies = list(allergies_of(patient_id).select_related("recorded_by"))
    medication_list = list(medication_list_of(patient_id))
    context: dict[str, Any] = {
        "patient": patient,
        "patient_id": patient_id,
        "own": user.role == Role.PATIENT,
        "preferred_pharmacy": preferred_pharmacy(patient),
        "allergy_rows": [
            (a, _row_form(EndAllergyForm, end_allergy_prefix(a.pk), error_form)) for a in allergies
        ],
        "ended_allergies": list(
            allergies_of(patient_id, include_ended=True).exclude(status="active")[:50]
        ),
        "medication_rows": [
            (s, _row_form(StopForm, stop_prefix(s.pk), error_form)) for s in medication_list
        ],
        "stopped": list(
            medication_list_of(patient_id, include_stopped=True).exclude(status="active")[:50]
        ),
        "allergy_form": forms_given.get("allergy_form") or AllergyForm(),
        "statement_form": forms_given.get("statement_form") or StatementForm(),
        "error_form": error_form,
    }
    return render(request, "prescribing/health.html", context, status=status)


@role_required(Role.PATIENT)
@consent_required
def my_health(request: HttpRequest) -> HttpResponse:
    patient = request_user(request)
    return _render(request, patient.pk)


@role_required(Role.CLINICIAN)
def patient_health(request: HttpRequest, patient_id: int) -> HttpResponse:
    return _render(request, patient_id)


@role_required(*EDITORS)
@require_POST
def add_allergy(request: HttpRequest, patient_id: int) -> HttpResponse:
    user = request_user(request)
    access_patient(user, patient_id, action="allergy.add")
    form = AllergyForm(request.POST)
    if form.is_valid():
        try:
            actions_health.do_add_allergy(user, patient_id, **form.cleaned_data)
        except ActionRefused as refused:
            refused_on(form, refused)
        else:
            messages.success(request, "Allergy recorded.")
            return HttpResponseRedirect(health_url(user, patient_id))
    return _render(request, patient_id, status=400, allergy_form=form)


@role_required(*EDITORS)
@require_POST
def end_allergy(request: HttpRequest, allergy_id: int) -> HttpResponse:
    user = request_user(request)
    allergy = access_allergy(user, allergy_id)
    form = EndAllergyForm(request.POST, prefix=end_allergy_prefix(allergy.pk))
    if form.is_valid():
        try:
            actions_health.do_end_allergy(
                user,
                allergy,
                reason=form.cleaned_data["reason"],
                entered_in_error=form.cleaned_data["entered_in_error"],
            )
        except ActionRefused as refused:
            refused_on(form, refused)
        else:
            messages.success(request, "Allergy removed.")
            return HttpResponseRedirect(health_url(user, allergy.patient_id))
    return _render(request, allergy.patient_id, status=400, error_form=form)


@role_required(*EDITORS)
@require_POST
def add_medication(request: HttpRequest, patient_id: int) -> HttpResponse:
    user = request_user(request)
    access_patient(user, patient_id, action="medication_statement.add")
    form = StatementForm(request.POST)
    if form.is_valid():
        try:
            actions_health.do_add_medication(
                user,
                patient_id,
                name=form.cleaned_data["name"],
                medication=form.cleaned_data["medication"],
                dosage=form.cleaned_data["dosage"],
            )
        except ActionRefused as refused:
            refused_on(form, refused)
        else:
            messages.success(request, "Medication added to the list.")
            return HttpResponseRedirect(health_url(user, patient_id))
    return _render(request, patient_id, status=400, statement_form=form)


@role_required(*EDITORS)
@require_POST
def stop_medication(request: HttpRequest, statement_id: int) -> HttpResponse:
    user = request_user(request)
    statement = access_statement(user, statement_id)
    form = StopForm(request.POST, prefix=stop_prefix(statement.pk))
    if form.is_valid():
        try:
            actions_health.do_stop_medication(user, statement, reason=form.cleaned_data["reason"])
        except ActionRefused as refused:
            refused_on(form, refused)
        else:
            messages.success(request, "Medication stopped.")
            return HttpResponseRedirect(health_url(user, statement.patient_id))
    return _render(request, statement.patient_id, status=400, error_form=form)
