"""The pharmacy app as prescribing sees it: the patient's preferred pharmacy, the directory,
and the handoff (`do_dispatch`). Imported where used, so the two apps load independently."""

from django.db.models import QuerySet

from carepath.accounts.models import User
from carepath.pharmacy.models import Pharmacy
from carepath.prescribing.fhir import medication_request_resource
from carepath.prescribing.models import Prescription

ORDER_TYPE = "MedicationRequest"


def preferred_pharmacy(patient: User) -> Pharmacy | None:
    from carepath.pharmacy.selectors import preferred_pharmacy_of

    pharmacy = preferred_pharmacy_of(patient)
    return pharmacy if pharmacy is not None and pharmacy.active else None


def pharmacy_choices(state: str) -> QuerySet[Pharmacy]:
    from carepath.pharmacy.selectors import pharmacies_for

    return pharmacies_for(state)


def dispatch(prescription: Prescription, *, by: User) -> None:
    """Hand the signed order to its pharmacy: the validated FHIR MedicationRequest goes to
    the pharmacy app, which sends it through the pharmacy's adapter after the commit.
    Idempotent per prescription there."""
    from carepath.pharmacy.actions import do_dispatch

    do_dispatch(
        pharmacy=prescription.pharmacy,
        order_type=ORDER_TYPE,
        order_id=str(prescription.pk),
        patient_id=prescription.patient_id,
        document=medication_request_resource(prescription),
        by=by,
    )
