"""A prescription as a FHIR R4 MedicationRequest, validated with fhir.resources (its R4B
models: the MedicationRequest resource is the same in R4 and R4B). This document is what the
pharmacy handoff sends and what GET .../prescriptions/{id}/fhir serves."""

from typing import Any

from fhir.resources.R4B.medicationrequest import MedicationRequest

from carepath.accounts.models import ClinicianProfile
from carepath.prescribing.models import Prescription
from carepath.prescribing.units import dispense_unit, is_measure

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
NPI = "http://hl7.org/fhir/sid/us-npi"
NCPDP = "http://terminology.hl7.org/NamingSystem/NCPDPProviderIdentificationNumber"
UCUM = "http://unitsofmeasure.org"
PRESCRIPTION_IDS = "urn:carepath:prescription"

FHIR_STATUS = {
    "draft": "draft",
    "active": "active",
    "completed": "completed",
    "cancelled": "cancelled",
    "entered_in_error": "entered-in-error",
}


def _requester(prescription: Prescription) -> dict[str, Any]:
    prescriber = prescription.prescriber
    reference: dict[str, Any] = {
        "reference": f"Practitioner/{prescriber.pk}",
        "display": prescriber.display_name,
    }
    profile = ClinicianProfile.objects.filter(user=prescriber).first()
    if profile is not None:
        reference["identifier"] = {"system": NPI, "value": profile.npi}
    return reference


def _quantity(prescription: Prescription) -> dict[str, Any]:
    """Grams and millilitres are UCUM units; a count of capsules is named by its form."""
    unit = dispense_unit(prescription.dose_form)
    quantity: dict[str, Any] = {"value": prescription.quantity, "unit": unit}
    if is_measure(unit):
        quantity.update(system=UCUM, code=unit)
    return quantity


def _dispense_request(prescription: Prescription) -> dict[str, Any]:
    pharmacy = prescription.pharmacy
    return {
        "numberOfRepeatsAllowed": prescription.refills,
        "quantity": _quantity(prescription),
        "expectedSupplyDuration": {
            "value": prescription.days_supply,
            "unit": "days",
            "system": UCUM,
            "code": "d",
        },
        "performer": {
            "display": f"{pharmacy.name}, {pharmacy.city} {pharmacy.state}",
            "identifier": {"system": NCPDP, "value": pharmacy.ncpdp_id},
        },
    }


def medication_request_resource(prescription: Prescription) -> dict[str, Any]:
    """The validated MedicationRequest as JSON (raises pydantic's ValidationError if we ever
    built an invalid one: a bug, never bad user input, since the fields are checked first)."""
    resource: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "id": str(prescription.pk),
        "identifier": [{"system": PRESCRIPTION_IDS, "value": str(prescription.pk)}],
        "status": FHIR_STATUS[prescription.status],
        "intent": "order",
        "medicationCodeableConcept": {
            "coding": [
                {
                    "system": RXNORM,
                    "code": prescription.rxcui,
                    "display": prescription.medication.generic_name,
                }
            ],
            "text": prescription.title,
        },
        "subject": {
            "reference": f"Patient/{prescription.patient_id}",
            "display": prescription.patient.display_name,
        },
        "encounter": {"reference": f"Encounter/{prescription.encounter_id}"},
        "requester": _requester(prescription),
        "dosageInstruction": [
            {"text": prescription.sig, "route": {"text": prescription.route}},
        ],
        "dispenseRequest": _dispense_request(prescription),
        "substitution": {"allowedBoolean": True},
    }
    if prescription.signed_at is not None:
        resource["authoredOn"] = prescription.signed_at.isoformat()
    if prescription.schedule:
        resource["category"] = [{"text": f"Controlled substance, schedule {prescription.schedule}"}]
    if prescription.note_to_pharmacist:
        resource["note"] = [{"text": prescription.note_to_pharmacist}]
    if prescription.refill_of_id is not None:
        resource["priorPrescription"] = {
            "reference": f"MedicationRequest/{prescription.refill_of_id}"
        }
    if prescription.end_reason:
        resource["statusReason"] = {"text": prescription.end_reason}
    validated = MedicationRequest.model_validate(resource)
    dumped: dict[str, Any] = validated.model_dump(mode="json", exclude_none=True)
    return dumped
