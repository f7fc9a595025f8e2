import datetime as dt
import json
from typing import Any

from django.test import Client


def line(measure: str, value: object, unit: str, at: dt.datetime, **extra: Any) -> str:
    return json.dumps(
        {"measure": measure, "value": value, "unit": unit, "effective_at": at.isoformat(), **extra}
    )


def post_ndjson(client: Client, lines: list[str]) -> Any:
    return client.post(
        "/api/v1/rpm/readings/batch", "\n".join(lines), content_type="application/x-ndjson"
    )


def post_one(
    client: Client, measure: str, value: float, unit: str, at: dt.datetime, **extra: Any
) -> Any:
    return client.post(
        "/api/v1/rpm/readings",
        line(measure, value, unit, at, **extra),
        content_type="application/json",
    )


def observation(
    code: str, value: float, unit: str, at: dt.datetime, **extra: Any
) -> dict[str, Any]:
    return {
        "resource": {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
            "effectiveDateTime": at.isoformat(),
            "valueQuantity": {
                "value": value,
                "unit": unit,
                "system": "http://unitsofmeasure.org",
                "code": unit,
            },
            **extra,
        }
    }


def bp_panel(systolic: float, diastolic: float, at: dt.datetime) -> dict[str, Any]:
    def component(code: str, value: float) -> dict[str, Any]:
        return {
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
            "valueQuantity": {
                "value": value,
                "unit": "mmHg",
                "system": "http://unitsofmeasure.org",
                "code": "mm[Hg]",
            },
        }

    return {
        "resource": {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
            "effectiveDateTime": at.isoformat(),
            "component": [component("8480-6", systolic), component("8462-4", diastolic)],
        }
    }


def post_bundle(client: Client, entries: list[Any], **shell: Any) -> Any:
    bundle = {"resourceType": "Bundle", "type": "collection", **shell, "entry": entries}
    return client.post(
        "/api/v1/rpm/readings/fhir", json.dumps(bundle), content_type="application/fhir+json"
    )
