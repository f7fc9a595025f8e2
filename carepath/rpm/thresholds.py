"""Threshold rules, in pure Python so a whole batch is judged without a query per reading.

Thresholds for one measure are a dict of optional bands, in the measure's stored unit:

    critical_low  <= warning_low  < warning_high  <= critical_high
    (a value BELOW a low band, or AT OR ABOVE a high band, crosses it)

and, for weight, gains over a window (heart failure: "2 lb in a day or 5 lb in a week"):

    warning_gain_24h, critical_gain_24h, warning_gain_7d, critical_gain_7d  (kg)

The gain is measured from the lowest weight in the window before the reading."""

import datetime as dt
import math
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from carepath.rpm.measures import MEASURES, Measure, spec_of

LEVEL_BANDS = ("critical_low", "warning_low", "warning_high", "critical_high")
GAIN_BANDS = ("warning_gain_24h", "critical_gain_24h", "warning_gain_7d", "critical_gain_7d")
GAIN_WINDOWS = {"24h": dt.timedelta(hours=24), "7d": dt.timedelta(days=7)}
BAND_LABELS = {
    "critical_low": "Critical below",
    "warning_low": "Warning below",
    "warning_high": "Warning at or above",
    "critical_high": "Critical at or above",
    "warning_gain_24h": "Warning gain in 24 h",
    "critical_gain_24h": "Critical gain in 24 h",
    "warning_gain_7d": "Warning gain in 7 days",
    "critical_gain_7d": "Critical gain in 7 days",
}

Thresholds = dict[str, dict[str, float]]


class Severity:
    WARNING = "warning"
    CRITICAL = "critical"


SEVERITY_RANK = {Severity.WARNING: 1, Severity.CRITICAL: 2}


def bands_for(measure: str) -> tuple[str, ...]:
    return LEVEL_BANDS + GAIN_BANDS if measure == Measure.WEIGHT else LEVEL_BANDS


class ThresholdError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def check_thresholds(raw: Any) -> Thresholds:
    """Validate a thresholds dict ({measure: {band: number|null}}); null drops a band. Raises
    ThresholdError naming the field."""
    if not isinstance(raw, Mapping):
        raise ThresholdError("thresholds", "Thresholds are an object keyed by measure.")
    cleaned: Thresholds = {}
    for measure, bands in raw.items():
        if measure not in MEASURES:
            raise ThresholdError(str(measure), f"Unknown measure {measure!r}.")
        if not isinstance(bands, Mapping):
            raise ThresholdError(measure, "Give the bands of a measure as an object.")
        spec = spec_of(measure)
        allowed = bands_for(measure)
        kept: dict[str, float] = {}
        for band, value in bands.items():
            where = f"{measure}.{band}"
            if band not in allowed:
                raise ThresholdError(where, f"Unknown band; use one of {', '.join(allowed)}.")
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ThresholdError(where, "A threshold is a number.")
            number = float(value)
            if not math.isfinite(number):
                raise ThresholdError(where, "A threshold is a finite number.")
            if band in LEVEL_BANDS and not spec.low <= number <= spec.high:
                raise ThresholdError(
                    where,
                    f"Must be within the plausible range, {spec.fmt(spec.low)} to "
                    f"{spec.fmt(spec.high)} {spec.unit}.",
                )
            if band in GAIN_BANDS and not 0 < number <= 50:
                raise ThresholdError(where, "A weight gain threshold is between 0 and 50 kg.")
            kept[band] = number
        _check_order(measure, kept)
        cleaned[measure] = kept
    return cleaned


def _check_order(measure: str, bands: Mapping[str, float]) -> None:
    present = [(band, bands[band]) for band in LEVEL_BANDS if band in bands]
    for (low_band, low), (high_band, high) in pairwise(present):
        # A low band and a high band leave a normal range between them; two bands on one
        # side may coincide (the warning band is then empty).
        crosses_sides = low_band.endswith("_low") and high_band.endswith("_high")
        if low > high or (crosses_sides and low == high):
            raise ThresholdError(
                f"{measure}.{high_band}",
                f"{BAND_LABELS[high_band]} must be above {BAND_LABELS[low_band].lower()}.",
            )
    for window in GAIN_WINDOWS:
        warning = bands.get(f"warning_gain_{window}")
        critical = bands.get(f"critical_gain_{window}")
        if warning is not None and critical is not None and critical < warning:
            raise ThresholdError(
                f"{measure}.critical_gain_{window}",
                "The critical gain must be at least the warning gain.",
            )


def effective_thresholds(defaults: Mapping[str, Any], overrides: Mapping[str, Any]) -> Thresholds:
    """A program's defaults with one enrollment's overrides on top (a null override removes
    a default band)."""
    merged: Thresholds = {}
    for measure in {*defaults, *overrides}:
        bands = dict(defaults.get(measure) or {})
        for band, value in (overrides.get(measure) or {}).items():
            if value is None:
                bands.pop(band, None)
            else:
                bands[band] = float(value)
        merged[measure] = {band: float(v) for band, v in bands.items() if v is not None}
    return merged


def most_sensitive(sets: Iterable[Thresholds]) -> Thresholds:
    """Several enrollments watching one measure: the tightest band wins (the highest low
    band, the lowest high band), so no enrollment's alert is lost."""
    combined: Thresholds = {}
    for thresholds in sets:
        for measure, bands in thresholds.items():
            into = combined.setdefault(measure, {})
            for band, value in bands.items():
                if band not in into:
                    into[band] = value
                elif band.endswith("_low"):
                    into[band] = max(into[band], value)
                else:
                    into[band] = min(into[band], value)
    return combined


@dataclass(frozen=True)
class Crossing:
    severity: str
    band: str
    bound: float
    value: float  # the reading's value, or the gain for a gain band

    def describe(self, measure: str) -> str:
        spec = spec_of(measure)
        if self.band in GAIN_BANDS:
            window = "24 hours" if self.band.endswith("24h") else "7 days"
            return (
                f"{spec.label}: gain of {self.value:.1f} kg in {window} "
                f"(threshold {self.bound:.1f} kg, {self.severity})"
            )
        direction = "below" if self.band.endswith("_low") else "at or above"
        return (
            f"{spec.label} {spec.fmt(self.value)} {spec.unit} {direction} "
            f"{spec.fmt(self.bound)} ({self.severity})"
        )

    @property
    def direction(self) -> str:
        if self.band in GAIN_BANDS:
            return "gain"
        return "low" if self.band.endswith("_low") else "high"


def level_crossing(value: float, bands: Mapping[str, float]) -> Crossing | None:
    """The worst level band `value` crosses, or None."""
    for band, severity in (
        ("critical_low", Severity.CRITICAL),
        ("critical_high", Severity.CRITICAL),
        ("warning_low", Severity.WARNING),
        ("warning_high", Severity.WARNING),
    ):
        bound = bands.get(band)
        if bound is None:
            continue
        crossed = value < bound if band.endswith("_low") else value >= bound
        if crossed:
            return Crossing(severity, band, bound, value)
    return None


def worse(a: Crossing | None, b: Crossing | None) -> Crossing | None:
    if a is None:
        return b
    if b is None:
        return a
    return b if SEVERITY_RANK[b.severity] > SEVERITY_RANK[a.severity] else a


def gain_crossings(
    new: Sequence[tuple[dt.datetime, float]],
    history: Sequence[tuple[dt.datetime, float]],
    bands: Mapping[str, float],
) -> list[Crossing | None]:
    """For each new weight (time, kg), the worst gain band it crosses, comparing with the
    lowest weight in the window before it (earlier readings and the rest of the batch).
    One pass per window with a monotonic deque: O(n) after sorting."""
    results: list[Crossing | None] = [None] * len(new)
    if not new:
        return results
    points = sorted(
        [(at, kg, -1) for at, kg in history] + [(at, kg, i) for i, (at, kg) in enumerate(new)],
        key=lambda p: (p[0], p[2]),
    )
    for window, span in GAIN_WINDOWS.items():
        warning = bands.get(f"warning_gain_{window}")
        critical = bands.get(f"critical_gain_{window}")
        if warning is None and critical is None:
            continue
        minima: deque[tuple[dt.datetime, float]] = deque()
        for at, kg, index in points:
            while minima and minima[0][0] < at - span:
                minima.popleft()
            if index >= 0 and minima:
                gain = kg - minima[0][1]
                found: Crossing | None = None
                if critical is not None and gain >= critical:
                    found = Crossing(Severity.CRITICAL, f"critical_gain_{window}", critical, gain)
                elif warning is not None and gain >= warning:
                    found = Crossing(Severity.WARNING, f"warning_gain_{window}", warning, gain)
                results[index] = worse(results[index], found)
            while minima and minima[-1][1] >= kg:
                minima.pop()
            minima.append((at, kg))
    return results


def has_gain_rules(bands: Mapping[str, float]) -> bool:
    return any(band in bands for band in GAIN_BANDS)
