"""The monitoring programs, as data. `seed_programs()` is idempotent: it creates missing
programs and never overwrites one an operator has changed."""

from typing import Any

from carepath.rpm.measures import Measure
from carepath.rpm.models import Program

BP = {
    Measure.BP_SYSTOLIC: {
        "critical_low": 80,
        "warning_low": 90,
        "warning_high": 160,
        "critical_high": 180,
    },
    Measure.BP_DIASTOLIC: {
        "critical_low": 40,
        "warning_low": 50,
        "warning_high": 100,
        "critical_high": 120,
    },
}
HEART_RATE = {
    Measure.HEART_RATE: {
        "critical_low": 40,
        "warning_low": 50,
        "warning_high": 110,
        "critical_high": 130,
    }
}

PROGRAMS: list[dict[str, Any]] = [
    {
        "code": "hypertension",
        "name": "Hypertension",
        "description": "Home blood pressure and pulse, for high blood pressure.",
        "measures": [Measure.BP_SYSTOLIC, Measure.BP_DIASTOLIC, Measure.HEART_RATE],
        "default_thresholds": {**BP, **HEART_RATE},
    },
    {
        "code": "diabetes",
        "name": "Diabetes (blood glucose)",
        "description": "Home blood glucose (finger-stick meter or sensor).",
        "measures": [Measure.GLUCOSE],
        "default_thresholds": {
            Measure.GLUCOSE: {
                "critical_low": 54,
                "warning_low": 70,
                "warning_high": 250,
                "critical_high": 400,
            }
        },
    },
    {
        "code": "heart-failure",
        "name": "Weight / heart failure",
        "description": "Daily weight (fluid gain), blood pressure and pulse, for heart failure.",
        "measures": [
            Measure.WEIGHT,
            Measure.BP_SYSTOLIC,
            Measure.BP_DIASTOLIC,
            Measure.HEART_RATE,
        ],
        # About 2 lb in a day or 5 lb in a week (warning), 3 lb in a day (critical).
        "default_thresholds": {
            Measure.WEIGHT: {
                "warning_gain_24h": 0.9,
                "critical_gain_24h": 1.4,
                "warning_gain_7d": 2.3,
            },
            **BP,
            **HEART_RATE,
        },
    },
    {
        "code": "spo2",
        "name": "Oxygen saturation (SpO2)",
        "description": "Pulse oximetry (oxygen level and pulse), e.g. for COPD.",
        "measures": [Measure.SPO2, Measure.HEART_RATE],
        "default_thresholds": {
            Measure.SPO2: {"critical_low": 88, "warning_low": 92},
            **HEART_RATE,
        },
    },
]


def _plain(value: Any) -> Any:
    """TextChoices keys as plain strings, so the JSON reads cleanly."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [str(v) for v in value]
    return value


def seed_programs() -> list[Program]:
    programs = []
    for data in PROGRAMS:
        program, _ = Program.objects.get_or_create(
            code=data["code"],
            defaults={
                "name": data["name"],
                "description": data["description"],
                "measures": _plain(data["measures"]),
                "default_thresholds": _plain(data["default_thresholds"]),
            },
        )
        programs.append(program)
    return programs
