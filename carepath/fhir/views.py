"""The FHIR R4 facade at /fhir/R4. It reads through the same access_*() selectors as the
rest of Carepath, so the same people see the same records and every read is audited."""

import json
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from carepath.access.selectors import access_patient, patients_visible_to
from carepath.accounts.mfa import staff_mfa_satisfied
from carepath.accounts.models import User
from carepath.audit.actions import do_record_audit
from carepath.fhir.resources import (
    FHIR_JSON,
    capability_statement,
    operation_outcome,
    patient_resource,
    searchset,
)


def fhir_response(body: dict[str, Any], status: int = 200) -> HttpResponse:
    response = HttpResponse(json.dumps(body), status=status, content_type=FHIR_JSON)
    response["Cache-Control"] = "private, no-store"
    return response


def signed_in(request: HttpRequest) -> User | None:
    user = request.user
    if not isinstance(user, User) or not staff_mfa_satisfied(request, user):
        return None
    return user


@require_GET
def metadata(request: HttpRequest) -> HttpResponse:
    return fhir_response(capability_statement(request.build_absolute_uri("/fhir/R4")))


@require_GET
def patient_read(request: HttpRequest, patient_id: int) -> HttpResponse:
    user = signed_in(request)
    if user is None:
        return fhir_response(operation_outcome("login", "Sign in or send an API token."), 401)
    try:
        profile = access_patient(user, patient_id)
    except Http404:
        return fhir_response(operation_outcome("not-found", f"Patient/{patient_id}"), 404)
    return fhir_response(patient_resource(profile))


@require_GET
def patient_search(request: HttpRequest) -> HttpResponse:
    user = signed_in(request)
    if user is None:
        return fhir_response(operation_outcome("login", "Sign in or send an API token."), 401)
    profiles = list(patients_visible_to(user)[:100])
    for profile in profiles:
        do_record_audit(
            "patient.read",
            actor=user,
            object_type="patient",
            object_id=profile.user_id,
            patient_id=profile.user_id,
            detail={"via": "fhir"},
        )
    return fhir_response(searchset([patient_resource(profile) for profile in profiles]))
