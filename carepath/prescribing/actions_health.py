"""Writes of what we know of the patient's health for prescribing: recorded allergies and
the medication list. The patient edits their own; a clinician with a care relationship adds
to it. Nothing is deleted: entries are ended with a reason."""

from django.db import transaction

from carepath.access.selectors import may_access_patient
from carepath.accounts.models import Role, User
from carepath.audit.actions import do_record_audit
from carepath.core import clock
from carepath.core.errors import ActionRefused
from carepath.prescribing.actions import audited_refusal, clean_text
from carepath.prescribing.models import (
    AllergyIntolerance,
    AllergySeverity,
    AllergyStatus,
    Medication,
    MedicationStatement,
    StatementSource,
    StatementStatus,
)

SUBSTANCE_MAX = 120
REACTION_MAX = 200
DOSAGE_MAX = 300
REASON_MAX = 500


def check_may_edit_health(user: User, patient_id: int) -> None:
    """The patient themselves, or a clinician who may see the patient."""
    own = user.role == Role.PATIENT and user.pk == patient_id
    clinician = user.role == Role.CLINICIAN and may_access_patient(user, patient_id)
    if not (own or clinician):
        raise ActionRefused(
            "forbidden", "Only the patient or their clinician edits this list.", status=403
        )


def do_add_allergy(
    user: User, patient_id: int, *, substance: str, reaction: str = "", severity: str = ""
) -> AllergyIntolerance:
    with audited_refusal("allergy.add", user, "patient", patient_id, patient_id):
        check_may_edit_health(user, patient_id)
        substance = clean_text(
            substance, field="substance", limit=SUBSTANCE_MAX, required="Name the substance."
        )
        reaction = clean_text(reaction, field="reaction", limit=REACTION_MAX)
        severity = severity or AllergySeverity.UNKNOWN
        if severity not in AllergySeverity.values:
            raise ActionRefused(
                "invalid_severity", "Choose a severity.", field="severity", status=422
            )
        with transaction.atomic():
            allergy = AllergyIntolerance.objects.create(
                patient_id=patient_id,
                substance=substance,
                reaction=reaction,
                severity=severity,
                recorded_by=user,
                recorded_at=clock.now(),
            )
            do_record_audit(
                "allergy.add",
                actor=user,
                object_type="allergy",
                object_id=allergy.pk,
                patient_id=patient_id,
            )
    return allergy


def do_end_allergy(
    user: User, allergy: AllergyIntolerance, *, reason: str, entered_in_error: bool = False
) -> AllergyIntolerance:
    """No longer allergic (resolved), or recorded by mistake (entered in error)."""
    with audited_refusal("allergy.end", user, "allergy", allergy.pk, allergy.patient_id):
        check_may_edit_health(user, allergy.patient_id)
        reason = clean_text(reason, field="reason", limit=REASON_MAX, required="Give the reason.")
        with transaction.atomic():
            locked = AllergyIntolerance.objects.select_for_update().get(pk=allergy.pk)
            if locked.status != AllergyStatus.ACTIVE:
                raise ActionRefused(
                    "already_ended", "This allergy was already removed.", status=409
                )
            locked.status = (
                AllergyStatus.ENTERED_IN_ERROR if entered_in_error else AllergyStatus.RESOLVED
            )
            locked.ended_at = clock.now()
            locked.end_reason = reason
            locked.save(update_fields=["status", "ended_at", "end_reason"])
            do_record_audit(
                "allergy.end",
                actor=user,
                object_type="allergy",
                object_id=locked.pk,
                patient_id=locked.patient_id,
                detail={"status": locked.status},
            )
    return locked


def do_add_medication(
    user: User,
    patient_id: int,
    *,
    name: str = "",
    medication: Medication | None = None,
    dosage: str = "",
) -> MedicationStatement:
    """A medication the patient takes that was not prescribed here: free text, optionally
    linked to a formulary entry (which then names it)."""
    with audited_refusal("medication_statement.add", user, "patient", patient_id, patient_id):
        check_may_edit_health(user, patient_id)
        if medication is not None and not name.strip():
            name = medication.name
        name = clean_text(name, field="name", limit=120, required="Name the medication.")
        dosage = clean_text(dosage, field="dosage", limit=DOSAGE_MAX)
        with transaction.atomic():
            statement = MedicationStatement.objects.create(
                patient_id=patient_id,
                medication=medication,
                name=name,
                dosage=dosage,
                source=StatementSource.PATIENT
                if user.role == Role.PATIENT
                else StatementSource.CLINICIAN,
                recorded_by=user,
                recorded_at=clock.now(),
            )
            do_record_audit(
                "medication_statement.add",
                actor=user,
                object_type="medication_statement",
                object_id=statement.pk,
                patient_id=patient_id,
            )
    return statement


def do_stop_medication(
    user: User, statement: MedicationStatement, *, reason: str
) -> MedicationStatement:
    with audited_refusal(
        "medication_statement.stop",
        user,
        "medication_statement",
        statement.pk,
        statement.patient_id,
    ):
        check_may_edit_health(user, statement.patient_id)
        reason = clean_text(reason, field="reason", limit=REASON_MAX, required="Give the reason.")
        with transaction.atomic():
            locked = MedicationStatement.objects.select_for_update().get(pk=statement.pk)
            if locked.status != StatementStatus.ACTIVE:
                raise ActionRefused(
                    "already_stopped", "This entry was already stopped.", status=409
                )
            locked.status = StatementStatus.STOPPED
            locked.stopped_at = clock.now()
            locked.stop_reason = reason
            locked.save(update_fields=["status", "stopped_at", "stop_reason"])
            do_record_audit(
                "medication_statement.stop",
                actor=user,
                object_type="medication_statement",
                object_id=locked.pk,
                patient_id=locked.patient_id,
            )
    return locked
