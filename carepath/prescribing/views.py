"""Prescription pages (under /prescriptions/):

""                         the patient's "My prescriptions"
new/?encounter=<id>        the prescribe form (clinician), &medication=<id> once chosen
<id>/                      one prescription: the patient's view, or the clinician's (a draft
                           with its warnings and the sign form)
<id>/pdf/                  the signed prescription as a PDF download
<id>/sign/ <id>/cancel/    POST (the prescriber)
<id>/refill/               POST: the patient asks for a refill"""

from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_POST

from carepath.accounts.models import ClinicianProfile, PatientProfile, Role, User
from carepath.care.models import Encounter
from carepath.core.decorators import consent_required, request_user, role_required
from carepath.core.errors import ActionRefused
from carepath.core.pdf import PdfSection, render_pdf
from carepath.prescribing import actions, checks, refills
from carepath.prescribing.forms import (
    CancelForm,
    ChooseMedicationForm,
    PrescribeForm,
    RefillRequestForm,
    SignForm,
)
from carepath.prescribing.handoff import pharmacy_choices, preferred_pharmacy
from carepath.prescribing.models import Medication, Prescription, PrescriptionStatus
from carepath.prescribing.origin import back_to_encounter
from carepath.prescribing.selectors import (
    access_encounter_for_prescribing,
    access_prescription,
    allergies_of,
    medication_list_of,
    pending_refill,
    prescriptions_of_patient,
    refills_of,
    status_history,
)

SIGNED_IN = (Role.PATIENT, Role.CLINICIAN, Role.TELEFACILITATOR, Role.COORDINATOR, Role.ADMIN)


def refused_on(form: forms.Form, refused: ActionRefused) -> None:
    """Show a refusal beside its field (or above the form)."""
    field = refused.field if refused.field in form.fields else None
    form.add_error(field, refused.message)


def days_text(days: int) -> str:
    return "1 day" if days == 1 else f"{days} days"


def detail_url(prescription: Prescription) -> str:
    return f"/prescriptions/{prescription.pk}/"


# --- The patient's list ------------------------------------------------------------------------


@role_required(Role.PATIENT)
@consent_required
def my_prescriptions(request: HttpRequest) -> HttpResponse:
    patient = request_user(request)
    prescriptions = list(prescriptions_of_patient(patient, patient.pk)[:200])
    return render(request, "prescribing/my_prescriptions.html", {"prescriptions": prescriptions})


# --- Prescribing --------------------------------------------------------------------------------


def _encounter_param(request: HttpRequest) -> Encounter:
    raw = request.GET.get("encounter", "")
    if not raw.isdigit() or len(raw) > 12:
        raise Http404("No encounter with that id.")
    return access_encounter_for_prescribing(request_user(request), int(raw))


def _chosen_medication(request: HttpRequest) -> Medication | None:
    raw = request.GET.get("medication", "")
    if not raw.isdigit() or len(raw) > 12:
        return None
    return Medication.objects.filter(pk=int(raw), active=True).first()


def _preview(clinician: User, encounter: Encounter, medication: Medication) -> dict[str, Any]:
    """What signing this medication would meet, shown before the draft is even written."""
    patient_id = encounter.episode.patient_id
    blocking = actions.hard_rule_problems(
        clinician, medication, encounter.episode, checks.state_of_care(encounter)
    )
    warnings = checks.allergy_warnings(patient_id, medication) + checks.duplicate_warnings(
        patient_id, medication
    )
    return {"blocking": blocking, "warnings": warnings}


def _prescribe_context(
    request: HttpRequest, encounter: Encounter, medication: Medication | None
) -> dict[str, Any]:
    patient_id = encounter.episode.patient_id
    state = checks.state_of_care(encounter)
    context: dict[str, Any] = {
        "encounter": encounter,
        "patient": encounter.episode.patient,
        "profile": PatientProfile.objects.filter(user_id=patient_id).first(),
        "state_of_care": state,
        "allergies": list(allergies_of(patient_id)),
        "medication_list": list(medication_list_of(patient_id)),
        "choose_form": ChooseMedicationForm(
            initial={"medication": medication.pk if medication else None}
        ),
        "medication": medication,
        "back": back_to_encounter(encounter),
    }
    if medication is not None:
        context.update(_preview(request_user(request), encounter, medication))
    return context


@role_required(Role.CLINICIAN)
def prescribe(request: HttpRequest) -> HttpResponse:
    clinician = request_user(request)
    encounter = _encounter_param(request)
    medication = _chosen_medication(request)
    context = _prescribe_context(request, encounter, medication)
    if medication is None:
        return render(request, "prescribing/prescribe.html", context)
    patient = encounter.episode.patient
    pharmacies = pharmacy_choices(context["state_of_care"])
    preferred = preferred_pharmacy(patient)
    if request.method == "POST":
        form = PrescribeForm(request.POST, medication=medication, pharmacies=pharmacies)
        if form.is_valid():
            try:
                draft = actions.do_create_draft(clinician, encounter, _details(form, medication))
            except ActionRefused as refused:
                refused_on(form, refused)
            else:
                messages.success(request, draft_saved_message(draft))
                return HttpResponseRedirect(detail_url(draft))
        context["form"] = form
        return render(request, "prescribing/prescribe.html", context, status=400)
    context["form"] = PrescribeForm(
        medication=medication,
        pharmacies=pharmacies,
        initial={"pharmacy": preferred.pk if preferred else None},
    )
    context["preferred"] = preferred
    return render(request, "prescribing/prescribe.html", context)


def draft_saved_message(draft: Prescription) -> str:
    if actions.warnings_for(draft):
        return "Draft saved. Check the warnings, then sign it."
    return "Draft saved. Review and sign."


def _details(form: PrescribeForm, medication: Medication) -> actions.OrderDetails:
    data = form.cleaned_data
    return actions.OrderDetails(
        medication=medication,
        strength=data["strength"],
        dose_form=data["dose_form"],
        sig=data["sig"],
        quantity=data["quantity"],
        days_supply=data["days_supply"],
        refills=data["refills"],
        pharmacy=data["pharmacy"],
        note_to_pharmacist=data["note_to_pharmacist"],
    )


# --- One prescription ----------------------------------------------------------------------------


def _sign_form(prescription: Prescription, data: Any = None) -> SignForm:
    warnings = actions.warnings_for(prescription)
    return SignForm(
        data,
        allergy=any(w.kind == checks.ALLERGY for w in warnings),
        duplicate=any(w.kind == checks.DUPLICATE for w in warnings),
        controlled=prescription.is_controlled,
    )


def _detail_context(user: User, prescription: Prescription) -> dict[str, Any]:
    refill_requests = list(refills_of(prescription))
    context: dict[str, Any] = {
        "prescription": prescription,
        "history": status_history(prescription),
        "refill_requests": refill_requests,
        "pending_refill": pending_refill(prescription),
        "is_prescriber": prescription.prescriber_id == user.pk,
        "is_draft": prescription.status == PrescriptionStatus.DRAFT,
    }
    if user.role != Role.PATIENT:
        context["back"] = back_to_encounter(prescription.encounter)
    if user.role == Role.CLINICIAN and context["is_draft"]:
        context["warnings"] = actions.warnings_for(prescription)
        context["blocking"] = actions.blocking_problems(user, prescription)
    return context


def _render_detail(
    request: HttpRequest, prescription: Prescription, status: int = 200, **forms: Any
) -> HttpResponse:
    user = request_user(request)
    context = _detail_context(user, prescription)
    if user.role == Role.PATIENT:
        context["refill_form"] = forms.get("refill_form") or RefillRequestForm()
        return render(request, "prescribing/patient_detail.html", context, status=status)
    context["sign_form"] = forms.get("sign_form") or _sign_form(prescription)
    context["cancel_form"] = forms.get("cancel_form") or CancelForm()
    return render(request, "prescribing/clinician_detail.html", context, status=status)


@role_required(*SIGNED_IN)
def prescription_detail(request: HttpRequest, prescription_id: int) -> HttpResponse:
    prescription = access_prescription(request_user(request), prescription_id)
    return _render_detail(request, prescription)


@role_required(Role.CLINICIAN)
@require_POST
def sign(request: HttpRequest, prescription_id: int) -> HttpResponse:
    clinician = request_user(request)
    prescription = access_prescription(clinician, prescription_id, action="prescription.open")
    form = _sign_form(prescription, request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            actions.do_sign_prescription(
                clinician,
                prescription,
                actions.SignOff(
                    allergy_override_reason=data.get("allergy_override_reason", ""),
                    duplicate_override_reason=data.get("duplicate_override_reason", ""),
                    mfa_code=data.get("mfa_code", ""),
                ),
            )
        except ActionRefused as refused:
            refused_on(form, refused)
        else:
            messages.success(request, "Signed and sent to the pharmacy.")
            return HttpResponseRedirect(detail_url(prescription))
    prescription.refresh_from_db()
    return _render_detail(request, prescription, status=400, sign_form=form)


@role_required(Role.CLINICIAN)
@require_POST
def cancel(request: HttpRequest, prescription_id: int) -> HttpResponse:
    clinician = request_user(request)
    prescription = access_prescription(clinician, prescription_id, action="prescription.open")
    form = CancelForm(request.POST)
    if form.is_valid():
        try:
            ended = actions.do_cancel_prescription(
                clinician,
                prescription,
                reason=form.cleaned_data["reason"],
                entered_in_error=form.cleaned_data["entered_in_error"],
            )
        except ActionRefused as refused:
            refused_on(form, refused)
        else:
            messages.success(request, "The prescription was stopped.")
            if ended.events.filter(kind=actions.NOT_WITHDRAWN).exists():
                messages.warning(request, actions.not_withdrawn_message(ended))
            return HttpResponseRedirect(detail_url(prescription))
    prescription.refresh_from_db()
    return _render_detail(request, prescription, status=400, cancel_form=form)


@role_required(Role.PATIENT)
@consent_required
@require_POST
def request_refill(request: HttpRequest, prescription_id: int) -> HttpResponse:
    patient = request_user(request)
    prescription = access_prescription(patient, prescription_id, action="prescription.open")
    form = RefillRequestForm(request.POST)
    if form.is_valid():
        try:
            refills.do_request_refill(patient, prescription, note=form.cleaned_data["note"])
        except ActionRefused as refused:
            refused_on(form, refused)
        else:
            messages.success(request, "Refill requested. We will let you know the answer.")
            return HttpResponseRedirect(detail_url(prescription))
    return _render_detail(request, prescription, status=400, refill_form=form)


# --- PDF ------------------------------------------------------------------------------------------


def prescription_pdf_bytes(prescription: Prescription) -> bytes:
    patient = prescription.patient
    profile = PatientProfile.objects.filter(user=patient).first()
    clinician = ClinicianProfile.objects.filter(user=prescription.prescriber).first()
    pharmacy = prescription.pharmacy
    signed = prescription.signed_at
    header = [
        f"Prescription #{prescription.pk} · {prescription.get_status_display()}",
        f"Patient: {patient.display_name}"
        + (f", born {profile.date_of_birth:%B %d, %Y}" if profile else ""),
        f"Prescriber: {prescription.prescriber.display_name}"
        + (f" (NPI {clinician.npi})" if clinician else ""),
        f"Signed: {signed:%B %d, %Y %H:%M} UTC" if signed else "Not signed",
    ]
    refills_text = "No refills" if prescription.refills == 0 else f"{prescription.refills}"
    sections = [
        PdfSection(
            "Medication",
            [
                f"{prescription.title} (RxNorm {prescription.rxcui})"
                + (
                    f", controlled substance schedule {prescription.schedule}"
                    if prescription.schedule
                    else ""
                ),
                f"Directions: {prescription.sig}",
                f"Quantity: {prescription.quantity_text} · "
                f"{days_text(prescription.days_supply)} supply · Refills: {refills_text}",
            ],
        ),
        PdfSection(
            "Pharmacy",
            [
                pharmacy.name,
                f"{pharmacy.address_line}, {pharmacy.city}, "
                f"{pharmacy.state} {pharmacy.postal_code}",
                f"Phone {pharmacy.phone}",
            ],
        ),
    ]
    if prescription.end_reason:
        sections.append(PdfSection("Status", [prescription.end_reason]))
    return render_pdf(
        title=f"Prescription: {prescription.medication_name}",
        header_lines=header,
        sections=sections,
        footer="Sent electronically to the pharmacy by Carepath. Keep this copy for your records.",
    )


@role_required(*SIGNED_IN)
def prescription_pdf(request: HttpRequest, prescription_id: int) -> HttpResponse:
    prescription = access_prescription(
        request_user(request), prescription_id, action="prescription.download_pdf"
    )
    if prescription.signed_at is None:
        raise Http404("Only a signed prescription has a PDF.")
    response = HttpResponse(prescription_pdf_bytes(prescription), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="prescription-{prescription.pk}.pdf"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response
