"""Questionnaires as FHIR R4 resources (validated with fhir.resources' R4B models)."""

from typing import Any

from fhir.resources.R4B.questionnaire import Questionnaire as FhirQuestionnaire

from carepath.intake.models import Questionnaire

SYSTEM = "urn:carepath:questionnaire"


def questionnaire_resource(questionnaire: Questionnaire) -> dict[str, Any]:
    definition = questionnaire.definition if isinstance(questionnaire.definition, dict) else {}
    resource = {
        "resourceType": "Questionnaire",
        "id": f"{questionnaire.code}-v{questionnaire.version}",
        "url": f"{SYSTEM}:{questionnaire.code}",
        "version": str(questionnaire.version),
        "name": questionnaire.code.replace("-", "_"),
        "title": questionnaire.title,
        "status": "active",
        "date": questionnaire.created_at.isoformat(),
        "subjectType": ["Patient"],
        "item": definition.get("item", []),
    }
    validated = FhirQuestionnaire.model_validate(resource)
    dumped: dict[str, Any] = validated.model_dump(mode="json", exclude_none=True)
    return dumped
