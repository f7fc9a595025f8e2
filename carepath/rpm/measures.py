"""What a reading can measure: its LOINC code, its UCUM unit (the one we store), the other
units we accept and convert, and the physiologically plausible range. A value outside that
range is not a worrying reading, it is an impossible one (a device fault or a typo) and is
rejected, never stored."""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import models


class Measure(models.TextChoices):
    BP_SYSTOLIC = "bp_systolic", "Systolic blood pressure"
    BP_DIASTOLIC = "bp_diastolic", "Diastolic blood pressure"
    HEART_RATE = "heart_rate", "Heart rate"
    GLUCOSE = "glucose", "Blood glucose"
    WEIGHT = "weight", "Body weight"
    SPO2 = "spo2", "Oxygen saturation (SpO2)"
    TEMPERATURE = "temperature", "Body temperature"


LOINC_SYSTEM = "http://loinc.org"
UCUM_SYSTEM = "http://unitsofmeasure.org"
# The blood pressure panel: a FHIR Observation with systolic and diastolic components.
BP_PANEL_LOINC = "85354-9"

LB_TO_KG = 0.45359237
GLUCOSE_MMOL_TO_MG = 18.016


@dataclass(frozen=True)
class MeasureSpec:
    code: str
    label: str
    loinc: str
    unit: str  # UCUM, as stored
    unit_label: str  # as people read it
    low: float  # plausible range, in `unit`, inclusive
    high: float
    decimals: int
    # What the patient reads: "Your <noun> reading ..."
    noun: str
    # Other LOINC codes meaning the same measure (older or more specific codes).
    loinc_aliases: tuple[str, ...] = ()
    # Other UCUM units accepted, with their conversion to `unit`.
    conversions: dict[str, Callable[[float], float]] = field(default_factory=dict)

    def to_canonical(self, value: float, unit: str) -> float | None:
        """The value in our unit, or None when the unit is not one we accept."""
        if unit == self.unit:
            return value
        convert = self.conversions.get(unit)
        return convert(value) if convert is not None else None

    @property
    def accepted_units(self) -> list[str]:
        return [self.unit, *self.conversions]

    def fmt(self, value: float) -> str:
        return f"{value:.{self.decimals}f}"


MEASURES: dict[str, MeasureSpec] = {
    spec.code: spec
    for spec in [
        MeasureSpec(
            Measure.BP_SYSTOLIC,
            "Systolic blood pressure",
            "8480-6",
            "mm[Hg]",
            "mmHg",
            50,
            300,
            0,
            "blood pressure",
        ),
        MeasureSpec(
            Measure.BP_DIASTOLIC,
            "Diastolic blood pressure",
            "8462-4",
            "mm[Hg]",
            "mmHg",
            20,
            200,
            0,
            "blood pressure",
        ),
        MeasureSpec(
            Measure.HEART_RATE,
            "Heart rate",
            "8867-4",
            "/min",
            "beats/min",
            20,
            300,
            0,
            "heart rate",
            conversions={"{beats}/min": float, "{Beats}/min": float},
        ),
        MeasureSpec(
            Measure.GLUCOSE,
            "Blood glucose",
            "2339-0",
            "mg/dL",
            "mg/dL",
            10,
            1000,
            0,
            "blood sugar",
            loinc_aliases=("2345-7", "41653-7"),
            conversions={"mmol/L": lambda v: v * GLUCOSE_MMOL_TO_MG},
        ),
        MeasureSpec(
            Measure.WEIGHT,
            "Body weight",
            "29463-7",
            "kg",
            "kg",
            2,
            400,
            1,
            "weight",
            loinc_aliases=("3141-9",),
            conversions={"[lb_av]": lambda v: v * LB_TO_KG, "g": lambda v: v / 1000},
        ),
        MeasureSpec(
            Measure.SPO2,
            "Oxygen saturation (SpO2)",
            "59408-5",
            "%",
            "%",
            50,
            100,
            0,
            "oxygen level",
            loinc_aliases=("2708-6",),
        ),
        MeasureSpec(
            Measure.TEMPERATURE,
            "Body temperature",
            "8310-5",
            "Cel",
            "°C",
            25,
            45,
            1,
            "temperature",
            conversions={"[degF]": lambda v: (v - 32) * 5 / 9},
        ),
    ]
}

MEASURE_BY_LOINC: dict[str, str] = {
    code: spec.code for spec in MEASURES.values() for code in (spec.loinc, *spec.loinc_aliases)
}

MEASURE_ORDER = [spec.code for spec in MEASURES.values()]


def spec_of(measure: str) -> MeasureSpec:
    return MEASURES[measure]
