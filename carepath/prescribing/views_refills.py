"""The clinician's review of a refill request (the REFILL work item opens here):

refills/<id>/            the request, the order it renews, allergies and medication list;
                         approve (same checks as signing) or deny with a reason
refills/<id>/approve/    POST
refills/<id>/deny/       POST"""

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_POST

from carepath.access.selectors import may_access_patient
from carepath.accounts.models import Role
from carepath.core.decorators import request_user, role_required
from carepath.core.errors import ActionRefused
from carepath.prescribing import actions, checks, refills
from carepath.prescribing.forms import DenyForm, SignForm
from carepath.prescribing.models import RefillRequest
from carepath.prescribing.selectors import access_refill, allergies_of, medication_list_of
from carepath.prescribing.views import refused_on


def _renewal_warnings(refill: RefillRequest) -> list[checks.CheckWarning]:
    original = refill.prescription
    return checks.allergy_warnings(
        refill.patient_id, original.medication
    ) + checks.duplicate_warnings(
        refill.patient_id, original.medication, ignore_prescription_ids=[original.pk]
    )


def _approve_form(refill: RefillRequest, data: Any = None) -> SignForm:
    warnings = _renewal_warnings(refill)
    return SignForm(
        data,
        allergy=any(w.kind == checks.ALLERGY for w in warnings),
        duplicate=any(w.kind == checks.DUPLICATE for w in warnings),
        controlled=refill.prescription.is_controlled,
    )


def _render(
    request: HttpRequest,
    refill: RefillRequest,
    *,
    status: int = 200,
    approve_form: SignForm | None = None,
    deny_form: DenyForm | None = None,
) -> HttpResponse:
    clinician = request_user(request)
    original = refill.prescription
    held = refills.holds_refill(clinician, refill)
    context: dict[str, Any] = {
        "refill": refill,
        "prescription": original,
        "item": refill.work_item,
        "held": held,
        "clinical": held or may_access_patient(clinician, refill.patient_id),
    }
    if context["clinical"]:
        # The order, allergies and medication list only for a clinician who holds the request
        # (claiming it starts a care relationship) or already cares for the patient; one it
        # is merely offered to sees the summary it needs to decide whether to take it.
        context.update(
            {
                "warnings": _renewal_warnings(refill),
                "blocking": actions.hard_rule_problems(
                    clinician,
                    original.medication,
                    original.episode,
                    refill.work_item.required_state if refill.work_item else original.state_of_care,
                ),
                "allergies": list(allergies_of(refill.patient_id)),
                "medication_list": list(medication_list_of(refill.patient_id)),
                "approve_form": approve_form or _approve_form(refill),
                "deny_form": deny_form or DenyForm(),
            }
        )
    return render(request, "prescribing/refill_review.html", context, status=status)


@role_required(Role.CLINICIAN)
def refill_review(request: HttpRequest, refill_id: int) -> HttpResponse:
    return _render(request, access_refill(request_user(request), refill_id))


@role_required(Role.CLINICIAN)
@require_POST
def approve(request: HttpRequest, refill_id: int) -> HttpResponse:
    clinician = request_user(request)
    refill = access_refill(clinician, refill_id, action="refill.open")
    form = _approve_form(refill, request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            renewal = refills.do_approve_refill(
                clinician,
                refill,
                actions.SignOff(
                    allergy_override_reason=data.get("allergy_override_reason", ""),
                    duplicate_override_reason=data.get("duplicate_override_reason", ""),
                    mfa_code=data.get("mfa_code", ""),
                ),
            )
        except ActionRefused as refused:
            refused_on(form, refused)
        else:
            messages.success(request, "Refill approved and sent to the pharmacy.")
            return HttpResponseRedirect(f"/prescriptions/{renewal.pk}/")
    refill.refresh_from_db()
    return _render(request, refill, status=400, approve_form=form)


@role_required(Role.CLINICIAN)
@require_POST
def deny(request: HttpRequest, refill_id: int) -> HttpResponse:
    clinician = request_user(request)
    refill = access_refill(clinician, refill_id, action="refill.open")
    form = DenyForm(request.POST)
    if form.is_valid():
        try:
            refills.do_deny_refill(clinician, refill, reason=form.cleaned_data["reason"])
        except ActionRefused as refused:
            refused_on(form, refused)
        else:
            messages.success(request, "Refill denied; the patient will see your reason.")
            return HttpResponseRedirect("/staff/queue/")
    refill.refresh_from_db()
    return _render(request, refill, status=400, deny_form=form)
