from collections.abc import Callable

from django.test import Client
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.patient import Patient

from carepath.access.actions import do_add_care_relationship
from carepath.accounts.models import User
from carepath.audit.models import AuditEvent

ClientFor = Callable[..., Client]


def test_metadata_is_a_valid_capability_statement(db: None) -> None:
    response = Client().get("/fhir/R4/metadata")
    assert response["Content-Type"] == "application/fhir+json"
    assert response.json()["fhirVersion"] == "4.3.0"


def test_patient_reads_own_patient_resource(client_for: ClientFor, alice: User) -> None:
    response = client_for(alice).get(f"/fhir/R4/Patient/{alice.pk}")
    assert response.status_code == 200
    patient = Patient.model_validate(response.json())
    assert patient.address[0].state == "TX"  # type: ignore[index]
    event = AuditEvent.objects.filter(action="patient.read").latest("seq")
    assert event.patient_id == alice.pk


def test_other_patient_is_not_found_and_audited(
    client_for: ClientFor, alice: User, bob: User
) -> None:
    response = client_for(alice).get(f"/fhir/R4/Patient/{bob.pk}")
    assert response.status_code == 404
    assert response.json()["resourceType"] == "OperationOutcome"
    assert AuditEvent.objects.filter(action="patient.read", outcome="denied").exists()


def test_search_returns_only_patients_in_care(
    client_for: ClientFor, alice: User, bob: User, dr_tex: User
) -> None:
    do_add_care_relationship(dr_tex, alice.pk)
    bundle = Bundle.model_validate(client_for(dr_tex).get("/fhir/R4/Patient").json())
    assert [entry.resource.id for entry in bundle.entry] == [str(alice.pk)]  # type: ignore[union-attr]


def test_anonymous_and_staff_without_mfa_are_refused(
    client_for: ClientFor, alice: User, dr_tex: User
) -> None:
    do_add_care_relationship(dr_tex, alice.pk)
    assert Client().get(f"/fhir/R4/Patient/{alice.pk}").status_code == 401
    assert client_for(dr_tex, mfa=False).get(f"/fhir/R4/Patient/{alice.pk}").status_code == 403
