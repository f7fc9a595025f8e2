"""API shapes of /api/v1/prescribing."""

import datetime as dt

from ninja import Field, Schema

from carepath.accounts.models import Role, User
from carepath.prescribing.actions import blocking_problems, warnings_for
from carepath.prescribing.models import (
    AllergyIntolerance,
    Medication,
    MedicationStatement,
    Prescription,
    PrescriptionEvent,
    PrescriptionStatus,
    RefillRequest,
)

SHORT = 500


class MedicationOut(Schema):
    id: int
    name: str
    generic_name: str
    rxcui: str
    strengths: list[str]
    dose_forms: list[str]
    route: str
    sig_templates: list[str]
    schedule: str
    controlled: bool
    drug_classes: list[str]
    ingredients: list[str]
    active: bool


def medication_out(medication: Medication) -> MedicationOut:
    return MedicationOut(
        id=medication.pk,
        name=medication.name,
        generic_name=medication.generic_name,
        rxcui=medication.rxcui,
        strengths=list(medication.strengths),
        dose_forms=list(medication.dose_forms),
        route=medication.route,
        sig_templates=list(medication.sig_templates),
        schedule=medication.schedule,
        controlled=medication.is_controlled,
        drug_classes=list(medication.drug_classes),
        ingredients=list(medication.ingredients),
        active=medication.active,
    )


class MedicationIn(Schema):
    name: str = Field(max_length=120)
    generic_name: str = Field(max_length=120)
    rxcui: str = Field(max_length=10, pattern=r"^[0-9]{1,10}$", description="RxCUI, digits")
    strengths: list[str] = Field(max_length=20)
    dose_forms: list[str] = Field(max_length=20)
    route: str = Field(max_length=40)
    sig_templates: list[str] = Field(default_factory=list, max_length=20)
    schedule: str = Field("", pattern=r"^(|II|III|IV|V)$")
    drug_classes: list[str] = Field(default_factory=list, max_length=20)
    ingredients: list[str] = Field(default_factory=list, max_length=20)


class ActiveIn(Schema):
    active: bool


class AllergyOut(Schema):
    id: int
    patient_id: int
    substance: str
    reaction: str
    severity: str
    status: str
    recorded_at: dt.datetime
    recorded_by: str
    ended_at: dt.datetime | None
    end_reason: str


def allergy_out(allergy: AllergyIntolerance) -> AllergyOut:
    return AllergyOut(
        id=allergy.pk,
        patient_id=allergy.patient_id,
        substance=allergy.substance,
        reaction=allergy.reaction,
        severity=allergy.severity,
        status=allergy.status,
        recorded_at=allergy.recorded_at,
        recorded_by=allergy.recorded_by.display_name,
        ended_at=allergy.ended_at,
        end_reason=allergy.end_reason,
    )


class AllergyIn(Schema):
    substance: str = Field(max_length=SHORT)
    reaction: str = Field("", max_length=SHORT)
    severity: str = Field("unknown", pattern=r"^(mild|moderate|severe|unknown)$")


class EndIn(Schema):
    reason: str = Field(max_length=2000)
    entered_in_error: bool = False


class StatementOut(Schema):
    id: int
    patient_id: int
    name: str
    medication_id: int | None
    dosage: str
    source: str
    prescription_id: int | None
    status: str
    recorded_at: dt.datetime
    stopped_at: dt.datetime | None
    stop_reason: str


def statement_out(statement: MedicationStatement) -> StatementOut:
    return StatementOut(
        id=statement.pk,
        patient_id=statement.patient_id,
        name=statement.name,
        medication_id=statement.medication_id,
        dosage=statement.dosage,
        source=statement.source,
        prescription_id=statement.prescription_id,
        status=statement.status,
        recorded_at=statement.recorded_at,
        stopped_at=statement.stopped_at,
        stop_reason=statement.stop_reason,
    )


class StatementIn(Schema):
    name: str = Field("", max_length=SHORT)
    medication_id: int | None = None
    dosage: str = Field("", max_length=SHORT)


class StopIn(Schema):
    reason: str = Field(max_length=2000)


class PrescriptionIn(Schema):
    encounter_id: int
    medication_id: int
    strength: str = Field(max_length=60)
    dose_form: str = Field(max_length=60)
    sig: str = Field(max_length=2000)
    quantity: int = Field(ge=1, le=10_000)
    days_supply: int = Field(ge=1, le=365)
    refills: int = Field(0, ge=0, le=11)
    pharmacy_id: int | None = Field(None, description="Default: the patient's preferred pharmacy")
    note_to_pharmacist: str = Field("", max_length=2000)


class SignIn(Schema):
    allergy_override_reason: str = Field(
        "", max_length=2000, description="Required when an allergy warning is shown"
    )
    duplicate_override_reason: str = Field(
        "", max_length=2000, description="Required when a duplicate-therapy warning is shown"
    )
    mfa_code: str = Field(
        "", max_length=16, description="A current TOTP code; required for controlled substances"
    )


class CancelIn(Schema):
    reason: str = Field(max_length=2000)
    entered_in_error: bool = False


class WarningOut(Schema):
    kind: str
    message: str
    matched: str


class EventOut(Schema):
    kind: str
    at: dt.datetime
    detail: str


def event_out(event: PrescriptionEvent) -> EventOut:
    return EventOut(kind=event.kind, at=event.at, detail=event.detail)


class RefillOut(Schema):
    id: int
    prescription_id: int
    status: str
    note: str
    requested_at: dt.datetime
    prescriber_until: dt.datetime
    widened_at: dt.datetime | None
    work_item_id: int | None
    decided_at: dt.datetime | None
    decided_by: str
    decision_reason: str
    new_prescription_id: int | None


def refill_out(refill: RefillRequest) -> RefillOut:
    return RefillOut(
        id=refill.pk,
        prescription_id=refill.prescription_id,
        status=refill.status,
        note=refill.note,
        requested_at=refill.requested_at,
        prescriber_until=refill.prescriber_until,
        widened_at=refill.widened_at,
        work_item_id=refill.work_item_id,
        decided_at=refill.decided_at,
        decided_by=refill.decided_by.display_name if refill.decided_by else "",
        decision_reason=refill.decision_reason,
        new_prescription_id=refill.new_prescription_id,
    )


class RefillIn(Schema):
    note: str = Field("", max_length=2000)


class DenyIn(Schema):
    reason: str = Field(max_length=2000)


class PrescriptionOut(Schema):
    id: int
    patient_id: int
    episode_id: int
    encounter_id: int
    prescriber_id: int
    prescriber: str
    medication_id: int
    medication_name: str
    rxcui: str
    schedule: str
    controlled: bool
    strength: str
    dose_form: str
    route: str
    sig: str
    quantity: int
    days_supply: int
    refills: int
    pharmacy_id: int
    pharmacy: str
    note_to_pharmacist: str
    state_of_care: str
    status: str
    dispatch_status: str
    refill_of_id: int | None
    created_at: dt.datetime
    signed_at: dt.datetime | None
    ended_at: dt.datetime | None
    end_reason: str
    warnings: list[WarningOut] = Field(
        description="Draft only: allergy and duplicate warnings signing must acknowledge"
    )
    blocking: list[str] = Field(description="Draft only: why signing would be refused now")
    mfa_required: bool
    history: list[EventOut]
    refill_requests: list[RefillOut]


def prescription_out(prescription: Prescription, viewer: User) -> PrescriptionOut:
    draft_for_clinician = (
        prescription.status == PrescriptionStatus.DRAFT and viewer.role == Role.CLINICIAN
    )
    warnings = warnings_for(prescription) if draft_for_clinician else []
    return PrescriptionOut(
        id=prescription.pk,
        patient_id=prescription.patient_id,
        episode_id=prescription.episode_id,
        encounter_id=prescription.encounter_id,
        prescriber_id=prescription.prescriber_id,
        prescriber=prescription.prescriber.display_name,
        medication_id=prescription.medication_id,
        medication_name=prescription.medication_name,
        rxcui=prescription.rxcui,
        schedule=prescription.schedule,
        controlled=prescription.is_controlled,
        strength=prescription.strength,
        dose_form=prescription.dose_form,
        route=prescription.route,
        sig=prescription.sig,
        quantity=prescription.quantity,
        days_supply=prescription.days_supply,
        refills=prescription.refills,
        pharmacy_id=prescription.pharmacy_id,
        pharmacy=str(prescription.pharmacy),
        note_to_pharmacist=prescription.note_to_pharmacist,
        state_of_care=prescription.state_of_care,
        status=prescription.status,
        dispatch_status=prescription.dispatch_state,
        refill_of_id=prescription.refill_of_id,
        created_at=prescription.created_at,
        signed_at=prescription.signed_at,
        ended_at=prescription.ended_at,
        end_reason=prescription.end_reason,
        warnings=[WarningOut(**w.as_dict()) for w in warnings],
        blocking=blocking_problems(viewer, prescription) if draft_for_clinician else [],
        mfa_required=prescription.is_controlled and prescription.status == "draft",
        history=[event_out(e) for e in prescription.events.all()],
        refill_requests=[
            refill_out(r) for r in prescription.refill_requests.select_related("decided_by")
        ],
    )
