"""Our records as FHIR R4 resources, each validated by fhir.resources before it leaves."""

from typing import Any

from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.patient import Patient

from carepath.accounts.models import PatientProfile
from carepath.core import clock

FHIR_JSON = "application/fhir+json"


def patient_resource(profile: PatientProfile) -> dict[str, Any]:
    user = profile.user
    telecom = [{"system": "email", "value": user.email, "use": "home"}]
    if profile.phone:
        telecom.append({"system": "phone", "value": profile.phone, "use": "mobile"})
    resource = Patient.model_validate(
        {
            "resourceType": "Patient",
            "id": str(user.pk),
            "active": user.is_active,
            "name": [{"use": "official", "family": user.last_name, "given": [user.first_name]}],
            "birthDate": profile.date_of_birth.isoformat(),
            "telecom": telecom,
            "address": [{"use": "home", "state": profile.state, "country": "US"}],
            "communication": [
                {
                    "language": {
                        "coding": [
                            {"system": "urn:ietf:bcp:47", "code": profile.preferred_language}
                        ]
                    },
                    "preferred": True,
                }
            ],
        }
    )
    return resource.model_dump(mode="json", exclude_none=True)


def capability_statement(base_url: str) -> dict[str, Any]:
    resource = CapabilityStatement.model_validate(
        {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": clock.now().date().isoformat(),
            "kind": "instance",
            "fhirVersion": "4.3.0",
            "format": ["json"],
            "implementation": {"description": "Carepath FHIR R4 facade", "url": base_url},
            "rest": [
                {
                    "mode": "server",
                    "security": {
                        "description": "Session or Bearer API token; every read is audited."
                    },
                    "resource": [
                        {
                            "type": "Patient",
                            "interaction": [{"code": "read"}, {"code": "search-type"}],
                        }
                    ],
                }
            ],
        }
    )
    return resource.model_dump(mode="json", exclude_none=True)


def operation_outcome(code: str, message: str) -> dict[str, Any]:
    resource = OperationOutcome.model_validate(
        {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": code, "diagnostics": message}],
        }
    )
    return resource.model_dump(mode="json", exclude_none=True)


def searchset(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [{"resource": resource} for resource in resources],
    }
