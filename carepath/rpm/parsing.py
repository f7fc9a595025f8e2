"""Turning what a device sends into readings, item by item, without touching the database.

A bad item becomes an ItemError (index, field, message) and the rest go on. Only a request
that cannot be read at all (not a Bundle, too many lines) is refused as a whole.

JSON item (single reading, or one line of an application/x-ndjson batch):

    {"measure": "bp_systolic" | "code": "8480-6", "value": 128, "unit": "mm[Hg]",
     "effective_at": "2026-11-01T07:30:00-06:00",
     "device": "<serial of another device of the same patient>"?,  "patient_id": 12?}

FHIR: a Bundle (collection, batch or transaction) of R4 Observations with a LOINC code,
valueQuantity in UCUM and effectiveDateTime (or the blood pressure panel 85354-9 with its
systolic/diastolic components)."""

import datetime as dt
import json
import math
from dataclasses import dataclass
from typing import Any, NamedTuple

from carepath.core.errors import ActionRefused
from carepath.rpm.measures import (
    BP_PANEL_LOINC,
    LOINC_SYSTEM,
    MEASURE_BY_LOINC,
    MEASURES,
    UCUM_SYSTEM,
    MeasureSpec,
)

MAX_BATCH_ITEMS = 10_000
MAX_BATCH_BYTES = 8 * 1024 * 1024
# A device clock a little ahead of ours is tolerated; a reading from the future is not.
FUTURE_SKEW = dt.timedelta(minutes=10)
MAX_AGE = dt.timedelta(days=366)
BUNDLE_TYPES = frozenset({"collection", "batch", "transaction"})
OBSERVATION_STATUSES = frozenset({"final", "amended", "corrected", "preliminary"})


@dataclass
class ReadingIn:
    index: int
    measure: str
    value: float
    unit: str
    original_value: float | None
    original_unit: str
    effective_at: dt.datetime
    device_serial: str = ""
    device_ref_id: int | None = None
    patient_id: int | None = None
    field_prefix: str = ""


@dataclass(frozen=True)
class ItemError:
    index: int
    field: str
    message: str

    def as_dict(self) -> dict[str, object]:
        return {"index": self.index, "field": self.field, "message": self.message}


# --- Values ----------------------------------------------------------------------------------


def _number(raw: object) -> float | None:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return None
    value = float(raw)
    return value if math.isfinite(value) else None


class Checked(NamedTuple):
    value: float  # in the measure's unit
    original_value: float | None  # what was sent, when converted
    original_unit: str


class BadValue(NamedTuple):
    field: str  # "value" or "unit"
    message: str


def check_value(spec: MeasureSpec, raw_value: object, raw_unit: object) -> Checked | BadValue:
    """The value in our unit (converted when sent in another accepted unit), or why not."""
    value = _number(raw_value)
    if value is None:
        return BadValue("value", "A number is required.")
    if not isinstance(raw_unit, str) or not raw_unit:
        return BadValue("unit", f"A UCUM unit is required: {' or '.join(spec.accepted_units)}.")
    canonical = spec.to_canonical(value, raw_unit)
    if canonical is None:
        return BadValue(
            "unit",
            f"{raw_unit!r} is not a unit for {spec.code}; use {' or '.join(spec.accepted_units)}"
            " (UCUM).",
        )
    if not spec.low <= canonical <= spec.high:
        shown = f"{spec.fmt(canonical)} {spec.unit}"
        if raw_unit != spec.unit:
            shown = f"{value:g} {raw_unit} ({shown})"
        return BadValue(
            "value",
            f"{shown} is not physiologically possible for {spec.label.lower()} (plausible "
            f"between {spec.fmt(spec.low)} and {spec.fmt(spec.high)} {spec.unit}); check the "
            "device.",
        )
    if raw_unit == spec.unit:
        return Checked(canonical, None, "")
    return Checked(round(canonical, 3), value, raw_unit)


def check_time(raw: object, now: dt.datetime) -> dt.datetime | str:
    """An aware datetime in UTC, or the message."""
    if isinstance(raw, dt.datetime):
        moment = raw
    elif isinstance(raw, str):
        try:
            moment = dt.datetime.fromisoformat(raw)
        except ValueError:
            return "Use an ISO 8601 date and time with an offset, e.g. 2026-11-01T07:30:00-06:00."
    else:
        return "Use an ISO 8601 date and time with an offset, e.g. 2026-11-01T07:30:00-06:00."
    if moment.tzinfo is None or moment.utcoffset() is None:
        return "The time needs a UTC offset or Z (a time without one is ambiguous)."
    moment = moment.astimezone(dt.UTC)
    if moment > now + FUTURE_SKEW:
        return "The time is in the future; check the device clock."
    if moment < now - MAX_AGE:
        return "The reading is more than a year old."
    return moment


# --- JSON items --------------------------------------------------------------------------------


def parse_json_item(index: int, obj: object, now: dt.datetime) -> ReadingIn | ItemError:
    if not isinstance(obj, dict):
        return ItemError(index, "item", "Each reading is a JSON object.")
    measure = obj.get("measure")
    code = obj.get("code")
    if measure is None and code is not None:
        measure = MEASURE_BY_LOINC.get(str(code))
        if measure is None:
            return ItemError(index, "code", f"LOINC {code!s:.20} is not a measure we monitor.")
    if not isinstance(measure, str) or measure not in MEASURES:
        return ItemError(
            index, "measure", f"Give the measure: one of {', '.join(MEASURES)} (or a LOINC code)."
        )
    spec = MEASURES[measure]
    checked = check_value(spec, obj.get("value"), obj.get("unit"))
    if isinstance(checked, BadValue):
        return ItemError(index, checked.field, checked.message)
    value, original_value, original_unit = checked
    moment = check_time(obj.get("effective_at"), now)
    if isinstance(moment, str):
        return ItemError(index, "effective_at", moment)
    serial = obj.get("device", "")
    if serial is None:
        serial = ""
    if not isinstance(serial, str) or len(serial) > 80:
        return ItemError(index, "device", "The device is its serial number (text).")
    patient_id = obj.get("patient_id")
    if patient_id is not None and (isinstance(patient_id, bool) or not isinstance(patient_id, int)):
        return ItemError(index, "patient_id", "The patient id is a number.")
    return ReadingIn(
        index=index,
        measure=measure,
        value=float(value),
        unit=spec.unit,
        original_value=original_value,
        original_unit=str(original_unit),
        effective_at=moment,
        device_serial=serial,
        patient_id=patient_id,
    )


def parse_ndjson(body: bytes, now: dt.datetime) -> tuple[list[ReadingIn], list[ItemError], int]:
    """(readings, errors, items received). Index = 0-based line number; blank lines skipped."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ActionRefused("bad_encoding", "The batch must be UTF-8 text.") from error
    lines = text.split("\n")
    readings: list[ReadingIn] = []
    errors: list[ItemError] = []
    received = 0
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        received += 1
        if received > MAX_BATCH_ITEMS:
            raise ActionRefused(
                "batch_too_large",
                f"A batch holds at most {MAX_BATCH_ITEMS} readings; split it.",
                status=413,
            )
        try:
            obj = json.loads(line)
        except ValueError:
            errors.append(ItemError(index, "line", "Not valid JSON."))
            continue
        parsed = parse_json_item(index, obj, now)
        (errors if isinstance(parsed, ItemError) else readings).append(parsed)  # type: ignore[arg-type]
    if received == 0:
        raise ActionRefused("empty_batch", "The batch has no readings.", field="body")
    return readings, errors, received


# --- FHIR --------------------------------------------------------------------------------------


def _fhir_field(loc: tuple[object, ...]) -> str:
    path = "resource"
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def check_bundle(data: object) -> list[Any]:
    """The Bundle's entries, after checking its shell with fhir.resources (R4B models, which
    are R4 for Bundle and Observation); a malformed Bundle is refused as a whole (422)."""
    from fhir.resources.R4B.bundle import Bundle
    from pydantic import ValidationError

    if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
        raise ActionRefused(
            "not_a_bundle",
            'Send a FHIR Bundle ({"resourceType": "Bundle", ...}).',
            status=422,
            field="resourceType",
        )
    entries = data.get("entry")
    if entries is None:
        entries = []
    if not isinstance(entries, list):
        raise ActionRefused(
            "invalid_bundle", "Bundle.entry must be a list.", field="entry", status=422
        )
    shell = {key: value for key, value in data.items() if key != "entry"}
    try:
        bundle = Bundle.model_validate(shell)
    except ValidationError as error:
        first = error.errors()[0]
        raise ActionRefused(
            "invalid_bundle",
            f"Not a valid FHIR Bundle: {first.get('msg')}",
            field=".".join(str(p) for p in first.get("loc", ())) or "bundle",
            status=422,
        ) from error
    if bundle.type not in BUNDLE_TYPES:
        raise ActionRefused(
            "invalid_bundle",
            f"Bundle.type must be one of {', '.join(sorted(BUNDLE_TYPES))}.",
            field="type",
            status=422,
        )
    if not entries:
        raise ActionRefused("empty_batch", "The Bundle has no entries.", field="entry")
    if len(entries) > MAX_BATCH_ITEMS:
        raise ActionRefused(
            "batch_too_large",
            f"A Bundle holds at most {MAX_BATCH_ITEMS} entries; split it.",
            status=413,
        )
    return entries


def _reference_id(reference: str | None, kind: str) -> str | None:
    if not reference or not reference.startswith(f"{kind}/"):
        return None
    return reference.removeprefix(f"{kind}/")


def _quantity(index: int, where: str, spec: MeasureSpec, quantity: Any) -> Checked | ItemError:
    if quantity is None or quantity.value is None:
        return ItemError(
            index, f"resource.{where}.value", "A valueQuantity with a value is needed."
        )
    if quantity.system not in (None, UCUM_SYSTEM):
        return ItemError(index, f"resource.{where}.system", "Units must be UCUM.")
    checked = check_value(spec, float(quantity.value), quantity.code or quantity.unit)
    if isinstance(checked, BadValue):
        field = "value" if checked.field == "value" else "code"
        return ItemError(index, f"resource.{where}.{field}", checked.message)
    return checked


def _loinc_measure(codeable: Any) -> str | None:
    codings = (codeable.coding or []) if codeable is not None else []
    for coding in codings:
        if coding.system == LOINC_SYSTEM and coding.code in MEASURE_BY_LOINC:
            return MEASURE_BY_LOINC[coding.code]
        if coding.system == LOINC_SYSTEM and coding.code == BP_PANEL_LOINC:
            return BP_PANEL_LOINC
    return None


def parse_observation(index: int, entry: object, now: dt.datetime) -> list[ReadingIn] | ItemError:
    from fhir.resources.R4B.observation import Observation
    from pydantic import ValidationError

    if not isinstance(entry, dict) or not isinstance(entry.get("resource"), dict):
        return ItemError(index, "resource", "Each entry needs a resource.")
    resource = entry["resource"]
    if resource.get("resourceType") != "Observation":
        return ItemError(index, "resource.resourceType", "Only Observations are accepted.")
    try:
        observation = Observation.model_validate(resource)
    except ValidationError as error:
        first = error.errors()[0]
        return ItemError(index, _fhir_field(tuple(first.get("loc", ()))), str(first.get("msg")))
    if observation.status not in OBSERVATION_STATUSES:
        return ItemError(
            index, "resource.status", f"Status {observation.status!r} is not a usable reading."
        )
    if observation.effectiveDateTime is None:
        return ItemError(index, "resource.effectiveDateTime", "effectiveDateTime is required.")
    if not isinstance(observation.effectiveDateTime, dt.datetime):
        return ItemError(
            index, "resource.effectiveDateTime", "Give a date with a time and a UTC offset."
        )
    moment = check_time(observation.effectiveDateTime, now)
    if isinstance(moment, str):
        return ItemError(index, "resource.effectiveDateTime", moment)
    patient_ref = observation.subject.reference if observation.subject else None
    patient_id: int | None = None
    if patient_ref is not None:
        raw_id = _reference_id(patient_ref, "Patient")
        if raw_id is None or not raw_id.isdigit():
            return ItemError(index, "resource.subject.reference", "Use Patient/<id>.")
        patient_id = int(raw_id)
    serial = ""
    device_ref_id: int | None = None
    if observation.device is not None:
        if observation.device.identifier is not None and observation.device.identifier.value:
            serial = str(observation.device.identifier.value)[:80]
        elif observation.device.reference:
            raw_device = _reference_id(observation.device.reference, "Device")
            if raw_device is None or not raw_device.isdigit():
                return ItemError(index, "resource.device.reference", "Use Device/<id>.")
            device_ref_id = int(raw_device)
    measure = _loinc_measure(observation.code)
    if measure is None:
        return ItemError(
            index, "resource.code", "No LOINC code of a measure we monitor (e.g. 8480-6)."
        )
    parts: list[tuple[str, str, Any]] = []
    if measure == BP_PANEL_LOINC:
        for n, component in enumerate(observation.component or []):
            component_measure = _loinc_measure(component.code)
            if component_measure is not None:
                parts.append(
                    (component_measure, f"component[{n}].valueQuantity", component.valueQuantity)
                )
        if not parts:
            return ItemError(
                index, "resource.component", "The panel has no systolic/diastolic component."
            )
    else:
        parts.append((measure, "valueQuantity", observation.valueQuantity))
    readings = []
    for part_measure, where, quantity in parts:
        spec = MEASURES[part_measure]
        checked = _quantity(index, where, spec, quantity)
        if isinstance(checked, ItemError):
            return checked
        value, original_value, original_unit = checked
        readings.append(
            ReadingIn(
                index=index,
                measure=part_measure,
                value=float(value),
                unit=spec.unit,
                original_value=original_value,
                original_unit=original_unit,
                effective_at=moment,
                device_serial=serial,
                device_ref_id=device_ref_id,
                patient_id=patient_id,
                field_prefix="resource.",
            )
        )
    return readings


def parse_fhir(body: bytes, now: dt.datetime) -> tuple[list[ReadingIn], list[ItemError], int]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise ActionRefused("invalid_json", "The body is not valid JSON.", field="body") from error
    entries = check_bundle(data)
    readings: list[ReadingIn] = []
    errors: list[ItemError] = []
    for index, entry in enumerate(entries):
        parsed = parse_observation(index, entry, now)
        if isinstance(parsed, ItemError):
            errors.append(parsed)
        else:
            readings.extend(parsed)
    return readings, errors, len(entries)
