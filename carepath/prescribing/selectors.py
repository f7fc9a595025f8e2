"""Reads of prescribing data. Every fetch of a patient's record goes through access_*():
patients see their own (never a draft), staff need a care relationship (or break-the-glass);
anything else is a 404 that is audited."""

from django.db.models import Q, QuerySet

from carepath.access.selectors import deny, may_access_patient
from carepath.accounts.models import Role, User
from carepath.audit.actions import do_record_audit
from carepath.care.models import Encounter
from carepath.core.errors import ActionRefused
from carepath.prescribing.models import (
    AllergyIntolerance,
    AllergyStatus,
    Medication,
    MedicationStatement,
    Prescription,
    PrescriptionEvent,
    PrescriptionStatus,
    RefillRequest,
    StatementStatus,
)

SIGNED_STATUSES = (
    PrescriptionStatus.ACTIVE,
    PrescriptionStatus.COMPLETED,
    PrescriptionStatus.CANCELLED,
    PrescriptionStatus.ENTERED_IN_ERROR,
)


def _visible_to(user: User, prescription: Prescription) -> bool:
    if not may_access_patient(user, prescription.patient_id):
        return False
    if user.role == Role.PATIENT:
        # A patient sees what was signed for them (a cancelled draft never was).
        return prescription.signed_at is not None
    return True


def prescription_queryset() -> QuerySet[Prescription]:
    return Prescription.objects.select_related(
        "patient", "prescriber", "medication", "pharmacy", "episode", "encounter"
    )


def access_prescription(
    user: User, prescription_id: int, *, action: str = "prescription.read"
) -> Prescription:
    prescription = prescription_queryset().filter(pk=prescription_id).first()
    if prescription is None or not _visible_to(user, prescription):
        raise deny(
            user, "prescription", prescription_id, prescription.patient_id if prescription else None
        )
    do_record_audit(
        action,
        actor=user,
        object_type="prescription",
        object_id=prescription.pk,
        patient_id=prescription.patient_id,
    )
    return prescription


def access_refill(user: User, refill_id: int, *, action: str = "refill.read") -> RefillRequest:
    """The patient, staff with access to the patient, and a clinician the refill's work item
    is offered to (they must read it to decide whether to take it)."""
    from carepath.workqueue.selectors import may_see_item

    refill = (
        RefillRequest.objects.select_related(
            "prescription__medication", "prescription__prescriber", "work_item", "patient"
        )
        .filter(pk=refill_id)
        .first()
    )
    allowed = refill is not None and (
        may_access_patient(user, refill.patient_id)
        or (
            user.role == Role.CLINICIAN
            and refill.work_item is not None
            and may_see_item(user, refill.work_item)
        )
    )
    if refill is None or not allowed:
        raise deny(user, "refill", refill_id, refill.patient_id if refill else None)
    do_record_audit(
        action, actor=user, object_type="refill", object_id=refill.pk, patient_id=refill.patient_id
    )
    return refill


def access_encounter_for_prescribing(user: User, encounter_id: int) -> Encounter:
    encounter = (
        Encounter.objects.select_related("episode", "episode__service_line", "clinician")
        .filter(pk=encounter_id)
        .first()
    )
    patient_id = encounter.episode.patient_id if encounter else None
    if encounter is None or patient_id is None or not may_access_patient(user, patient_id):
        raise deny(user, "encounter", encounter_id, patient_id)
    do_record_audit(
        "encounter.read",
        actor=user,
        object_type="encounter",
        object_id=encounter.pk,
        patient_id=patient_id,
        detail={"purpose": "prescribe"},
    )
    return encounter


def prescriptions_of_patient(viewer: User, patient_id: int) -> QuerySet[Prescription]:
    """The caller has authorized the patient (access_patient or it is the patient)."""
    prescriptions = prescription_queryset().filter(patient_id=patient_id)
    if viewer.role == Role.PATIENT:
        prescriptions = prescriptions.filter(signed_at__isnull=False)
    return prescriptions


def prescriptions_of_encounter(viewer: User, encounter: Encounter) -> list[Prescription]:
    """For the encounter panel; nothing (and no audit) for someone without access."""
    if not may_access_patient(viewer, encounter.episode.patient_id):
        return []
    prescriptions = prescription_queryset().filter(encounter=encounter, refill_of__isnull=True)
    if viewer.role == Role.PATIENT:
        prescriptions = prescriptions.filter(signed_at__isnull=False)
    else:
        prescriptions = prescriptions.exclude(
            status=PrescriptionStatus.CANCELLED, signed_at__isnull=True
        )
    found = list(prescriptions.order_by("created_at", "pk"))
    if found:
        do_record_audit(
            "prescription.list",
            actor=viewer,
            object_type="encounter",
            object_id=encounter.pk,
            patient_id=encounter.episode.patient_id,
            detail={"prescription_ids": [p.pk for p in found]},
        )
    return found


def allergies_of(patient_id: int, *, include_ended: bool = False) -> QuerySet[AllergyIntolerance]:
    allergies = AllergyIntolerance.objects.filter(patient_id=patient_id)
    if not include_ended:
        allergies = allergies.filter(status=AllergyStatus.ACTIVE)
    return allergies


def medication_list_of(
    patient_id: int, *, include_stopped: bool = False
) -> QuerySet[MedicationStatement]:
    statements = MedicationStatement.objects.filter(patient_id=patient_id).select_related(
        "medication", "prescription", "prescription__prescriber"
    )
    if not include_stopped:
        statements = statements.filter(status=StatementStatus.ACTIVE)
    return statements


def refills_of(prescription: Prescription) -> QuerySet[RefillRequest]:
    return RefillRequest.objects.filter(prescription=prescription).select_related(
        "decided_by", "new_prescription"
    )


def pending_refill(prescription: Prescription) -> RefillRequest | None:
    return refills_of(prescription).filter(status="requested").first()


def formulary(*, include_inactive: bool = False, query: str = "") -> QuerySet[Medication]:
    medications = Medication.objects.all()
    if not include_inactive:
        medications = medications.filter(active=True)
    query = query.strip()
    if "\x00" in query:
        raise ActionRefused(
            "invalid_character", "The search contains a NUL character.", field="q", status=422
        )
    if query:
        medications = medications.filter(
            Q(name__icontains=query) | Q(generic_name__icontains=query) | Q(rxcui=query)
        )
    return medications


def status_history(prescription: Prescription) -> list[PrescriptionEvent]:
    return list(prescription.events.select_related("actor"))


def access_allergy(user: User, allergy_id: int) -> AllergyIntolerance:
    allergy = AllergyIntolerance.objects.filter(pk=allergy_id).first()
    if allergy is None or not may_access_patient(user, allergy.patient_id):
        raise deny(user, "allergy", allergy_id, allergy.patient_id if allergy else None)
    do_record_audit(
        "allergy.read",
        actor=user,
        object_type="allergy",
        object_id=allergy.pk,
        patient_id=allergy.patient_id,
    )
    return allergy


def access_statement(user: User, statement_id: int) -> MedicationStatement:
    statement = MedicationStatement.objects.filter(pk=statement_id).first()
    if statement is None or not may_access_patient(user, statement.patient_id):
        raise deny(
            user, "medication_statement", statement_id, statement.patient_id if statement else None
        )
    do_record_audit(
        "medication_statement.read",
        actor=user,
        object_type="medication_statement",
        object_id=statement.pk,
        patient_id=statement.patient_id,
    )
    return statement
