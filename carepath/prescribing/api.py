"""/api/v1/prescribing: the formulary (admins edit it), a patient's allergies and medication
list (the patient and their clinicians), prescriptions (clinicians write and sign; the
patient reads signed ones) and refill requests. Creating POSTs accept an Idempotency-Key."""

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest
from ninja import Router, Status
from pydantic import BaseModel

from carepath.access.selectors import access_patient
from carepath.accounts.models import Role, User
from carepath.audit.actions import do_record_audit
from carepath.audit.models import Outcome
from carepath.core.api import current_user, only
from carepath.core.errors import ActionRefused
from carepath.core.idempotency import idempotency_key, idempotent
from carepath.pharmacy.models import Pharmacy
from carepath.prescribing import actions, actions_formulary, actions_health, refills
from carepath.prescribing.fhir import medication_request_resource
from carepath.prescribing.handoff import preferred_pharmacy
from carepath.prescribing.models import Medication
from carepath.prescribing.schemas import (
    ActiveIn,
    AllergyIn,
    AllergyOut,
    CancelIn,
    DenyIn,
    EndIn,
    MedicationIn,
    MedicationOut,
    PrescriptionIn,
    PrescriptionOut,
    RefillIn,
    RefillOut,
    SignIn,
    StatementIn,
    StatementOut,
    StopIn,
    allergy_out,
    medication_out,
    prescription_out,
    refill_out,
    statement_out,
)
from carepath.prescribing.selectors import (
    access_allergy,
    access_encounter_for_prescribing,
    access_prescription,
    access_refill,
    access_statement,
    allergies_of,
    formulary,
    medication_list_of,
    prescriptions_of_patient,
)

router = Router(tags=["prescribing"])

HEALTH_EDITORS = (Role.PATIENT, Role.CLINICIAN)


def _created(
    request: HttpRequest, endpoint: str, payload: dict[str, Any], make: Callable[[], BaseModel]
) -> Status[dict[str, Any]]:
    """Run a create once per Idempotency-Key. With a key, the action runs inside the
    idempotency record's transaction, so a refusal's own audit row is rolled back with it:
    the denial is recorded again here, after that rollback."""
    user = current_user(request)
    key = idempotency_key(request)

    def create() -> tuple[int, Any]:
        return 201, make().model_dump(mode="json")

    try:
        status, body = idempotent(user, key, endpoint, payload, create)
    except ActionRefused as refused:
        if key is not None:
            do_record_audit(
                endpoint, actor=user, outcome=Outcome.DENIED, detail={"code": refused.code}
            )
            actions.record_refusal_notes(refused, user)
        raise
    return Status(status, body)


def _medication(medication_id: int, *, active_only: bool = True) -> Medication:
    medication = Medication.objects.filter(pk=medication_id).first()
    if medication is None or (active_only and not medication.active):
        raise ActionRefused("not_found", "No medication with that id.", status=404)
    return medication


# --- Formulary --------------------------------------------------------------------------------


@router.get("/medications", response=list[MedicationOut], summary="The formulary")
def list_medications(
    request: HttpRequest, q: str = "", include_inactive: bool = False
) -> list[MedicationOut]:
    admin = current_user(request).role == Role.ADMIN
    medications = formulary(include_inactive=include_inactive and admin, query=q[:100])
    return [medication_out(m) for m in medications[:500]]


@router.get("/medications/{medication_id}", response=MedicationOut, summary="One formulary entry")
def get_medication(request: HttpRequest, medication_id: int) -> MedicationOut:
    admin = current_user(request).role == Role.ADMIN
    return medication_out(_medication(medication_id, active_only=not admin))


@router.post(
    "/medications",
    response={201: MedicationOut},
    summary="Add a formulary entry (admin). Idempotency-Key.",
    auth=only(Role.ADMIN),
)
def create_medication(request: HttpRequest, payload: MedicationIn) -> Status[dict[str, Any]]:
    admin = current_user(request)
    return _created(
        request,
        "prescribing.medication.create",
        payload.model_dump(mode="json"),
        lambda: medication_out(actions_formulary.do_create_medication(admin, **payload.dict())),
    )


@router.post(
    "/medications/{medication_id}/active",
    response=MedicationOut,
    summary="Activate or deactivate a formulary entry (admin)",
    auth=only(Role.ADMIN),
)
def set_medication_active(
    request: HttpRequest, medication_id: int, payload: ActiveIn
) -> MedicationOut:
    medication = _medication(medication_id, active_only=False)
    return medication_out(
        actions_formulary.do_set_medication_active(
            current_user(request), medication, payload.active
        )
    )


# --- Allergies and the medication list --------------------------------------------------------


@router.get(
    "/patients/{patient_id}/allergies",
    response=list[AllergyOut],
    summary="Recorded allergies (active; include_ended for all)",
)
def list_allergies(
    request: HttpRequest, patient_id: int, include_ended: bool = False
) -> list[AllergyOut]:
    access_patient(current_user(request), patient_id, action="allergy.list")
    allergies = allergies_of(patient_id, include_ended=include_ended).select_related("recorded_by")
    return [allergy_out(a) for a in allergies[:500]]


@router.post(
    "/patients/{patient_id}/allergies",
    response={201: AllergyOut},
    summary="Record an allergy (the patient, or their clinician). Idempotency-Key.",
    auth=only(*HEALTH_EDITORS),
)
def add_allergy(
    request: HttpRequest, patient_id: int, payload: AllergyIn
) -> Status[dict[str, Any]]:
    user = current_user(request)
    access_patient(user, patient_id, action="allergy.add")
    return _created(
        request,
        f"prescribing.allergy.add.{patient_id}",
        payload.model_dump(mode="json"),
        lambda: allergy_out(
            actions_health.do_add_allergy(
                user,
                patient_id,
                substance=payload.substance,
                reaction=payload.reaction,
                severity=payload.severity,
            )
        ),
    )


@router.post(
    "/allergies/{allergy_id}/end",
    response=AllergyOut,
    summary="No longer allergic, or entered in error (with a reason)",
    auth=only(*HEALTH_EDITORS),
)
def end_allergy(request: HttpRequest, allergy_id: int, payload: EndIn) -> AllergyOut:
    user = current_user(request)
    allergy = access_allergy(user, allergy_id)
    ended = actions_health.do_end_allergy(
        user, allergy, reason=payload.reason, entered_in_error=payload.entered_in_error
    )
    return allergy_out(ended)


@router.get(
    "/patients/{patient_id}/medications",
    response=list[StatementOut],
    summary="The medication list (active; include_stopped for all)",
)
def list_medication_statements(
    request: HttpRequest, patient_id: int, include_stopped: bool = False
) -> list[StatementOut]:
    access_patient(current_user(request), patient_id, action="medication_statement.list")
    statements = medication_list_of(patient_id, include_stopped=include_stopped)
    return [statement_out(s) for s in statements[:500]]


@router.post(
    "/patients/{patient_id}/medications",
    response={201: StatementOut},
    summary="Add a medication the patient takes (free text, optional formulary link). "
    "Idempotency-Key.",
    auth=only(*HEALTH_EDITORS),
)
def add_medication_statement(
    request: HttpRequest, patient_id: int, payload: StatementIn
) -> Status[dict[str, Any]]:
    user = current_user(request)
    access_patient(user, patient_id, action="medication_statement.add")
    linked = (
        _medication(payload.medication_id, active_only=False)
        if payload.medication_id is not None
        else None
    )
    return _created(
        request,
        f"prescribing.medication_statement.add.{patient_id}",
        payload.model_dump(mode="json"),
        lambda: statement_out(
            actions_health.do_add_medication(
                user, patient_id, name=payload.name, medication=linked, dosage=payload.dosage
            )
        ),
    )


@router.post(
    "/medication-statements/{statement_id}/stop",
    response=StatementOut,
    summary="Stop a medication-list entry, with a reason",
    auth=only(*HEALTH_EDITORS),
)
def stop_medication_statement(
    request: HttpRequest, statement_id: int, payload: StopIn
) -> StatementOut:
    user = current_user(request)
    statement = access_statement(user, statement_id)
    return statement_out(actions_health.do_stop_medication(user, statement, reason=payload.reason))


# --- Prescriptions ----------------------------------------------------------------------------


@router.get(
    "/patients/{patient_id}/prescriptions",
    response=list[PrescriptionOut],
    summary="A patient's prescriptions (the patient sees signed ones only)",
)
def list_prescriptions(request: HttpRequest, patient_id: int) -> list[PrescriptionOut]:
    user = current_user(request)
    access_patient(user, patient_id, action="prescription.list")
    return [prescription_out(p, user) for p in prescriptions_of_patient(user, patient_id)[:200]]


def _pharmacy(pharmacy_id: int | None, patient: User) -> Pharmacy | None:
    if pharmacy_id is None:
        return preferred_pharmacy(patient)
    return Pharmacy.objects.filter(pk=pharmacy_id, active=True).first()


@router.post(
    "/prescriptions",
    response={201: PrescriptionOut},
    summary="Write a draft prescription in an encounter; warnings come back on it. "
    "Idempotency-Key.",
    auth=only(Role.CLINICIAN),
)
def create_prescription(request: HttpRequest, payload: PrescriptionIn) -> Status[dict[str, Any]]:
    clinician = current_user(request)
    encounter = access_encounter_for_prescribing(clinician, payload.encounter_id)

    def make() -> PrescriptionOut:
        details = actions.OrderDetails(
            medication=Medication.objects.filter(pk=payload.medication_id).first(),
            strength=payload.strength,
            dose_form=payload.dose_form,
            sig=payload.sig,
            quantity=payload.quantity,
            days_supply=payload.days_supply,
            refills=payload.refills,
            pharmacy=_pharmacy(payload.pharmacy_id, encounter.episode.patient),
            note_to_pharmacist=payload.note_to_pharmacist,
        )
        return prescription_out(actions.do_create_draft(clinician, encounter, details), clinician)

    return _created(request, "prescribing.prescription.create", payload.model_dump(), make)


@router.get(
    "/prescriptions/{prescription_id}",
    response=PrescriptionOut,
    summary="One prescription (drafts: its warnings and what would block signing)",
)
def get_prescription(request: HttpRequest, prescription_id: int) -> PrescriptionOut:
    user = current_user(request)
    return prescription_out(access_prescription(user, prescription_id), user)


@router.get(
    "/prescriptions/{prescription_id}/fhir",
    response=dict[str, Any],
    summary="The prescription as a FHIR R4 MedicationRequest (read-only)",
)
def get_prescription_fhir(request: HttpRequest, prescription_id: int) -> dict[str, Any]:
    user = current_user(request)
    prescription = access_prescription(user, prescription_id, action="prescription.read_fhir")
    return medication_request_resource(prescription)


@router.post(
    "/prescriptions/{prescription_id}/sign",
    response=PrescriptionOut,
    summary="Sign a draft (acknowledge warnings with reasons; mfa_code for controlled "
    "substances): it goes to the pharmacy",
    auth=only(Role.CLINICIAN),
)
def sign_prescription(
    request: HttpRequest, prescription_id: int, payload: SignIn
) -> PrescriptionOut:
    clinician = current_user(request)
    prescription = access_prescription(clinician, prescription_id, action="prescription.open")
    signed = actions.do_sign_prescription(
        clinician,
        prescription,
        actions.SignOff(
            allergy_override_reason=payload.allergy_override_reason,
            duplicate_override_reason=payload.duplicate_override_reason,
            mfa_code=payload.mfa_code,
        ),
    )
    return prescription_out(signed, clinician)


@router.post(
    "/prescriptions/{prescription_id}/cancel",
    response=PrescriptionOut,
    summary="Discard a draft, cancel an order, or mark it entered in error (with a reason)",
    auth=only(Role.CLINICIAN),
)
def cancel_prescription(
    request: HttpRequest, prescription_id: int, payload: CancelIn
) -> PrescriptionOut:
    clinician = current_user(request)
    prescription = access_prescription(clinician, prescription_id, action="prescription.open")
    ended = actions.do_cancel_prescription(
        clinician, prescription, reason=payload.reason, entered_in_error=payload.entered_in_error
    )
    return prescription_out(ended, clinician)


# --- Refills ----------------------------------------------------------------------------------


@router.post(
    "/prescriptions/{prescription_id}/refill-requests",
    response={201: RefillOut},
    summary="Ask for a refill of an active prescription (patient). Idempotency-Key.",
    auth=only(Role.PATIENT),
)
def request_refill(
    request: HttpRequest, prescription_id: int, payload: RefillIn
) -> Status[dict[str, Any]]:
    patient = current_user(request)
    prescription = access_prescription(patient, prescription_id, action="prescription.open")
    return _created(
        request,
        f"prescribing.refill.request.{prescription_id}",
        payload.model_dump(),
        lambda: refill_out(refills.do_request_refill(patient, prescription, note=payload.note)),
    )


@router.get(
    "/refill-requests/{refill_id}",
    response=RefillOut,
    summary="One refill request (the patient, their clinicians, or a clinician it is offered to)",
)
def get_refill(request: HttpRequest, refill_id: int) -> RefillOut:
    return refill_out(access_refill(current_user(request), refill_id))


@router.post(
    "/refill-requests/{refill_id}/approve",
    response={201: PrescriptionOut},
    summary="Approve (claim it first): a new signed prescription, same checks. Idempotency-Key.",
    auth=only(Role.CLINICIAN),
)
def approve_refill(request: HttpRequest, refill_id: int, payload: SignIn) -> Status[dict[str, Any]]:
    clinician = current_user(request)
    refill = access_refill(clinician, refill_id, action="refill.open")
    signoff = actions.SignOff(
        allergy_override_reason=payload.allergy_override_reason,
        duplicate_override_reason=payload.duplicate_override_reason,
        mfa_code=payload.mfa_code,
    )
    # The one-time code is left out of the replay fingerprint: a retry carries a new one.
    fingerprint = payload.model_dump(exclude={"mfa_code"})
    return _created(
        request,
        f"prescribing.refill.approve.{refill_id}",
        fingerprint,
        lambda: prescription_out(refills.do_approve_refill(clinician, refill, signoff), clinician),
    )


@router.post(
    "/refill-requests/{refill_id}/deny",
    response=RefillOut,
    summary="Deny (claim it first) with a reason the patient sees",
    auth=only(Role.CLINICIAN),
)
def deny_refill(request: HttpRequest, refill_id: int, payload: DenyIn) -> RefillOut:
    clinician = current_user(request)
    refill = access_refill(clinician, refill_id, action="refill.open")
    return refill_out(refills.do_deny_refill(clinician, refill, reason=payload.reason))
