import datetime as dt
from typing import Annotated, Any

from ninja import Schema
from pydantic import Field, StringConstraints

from carepath.rpm.actions import IngestResult
from carepath.rpm.models import Alert, Device, Enrollment, Program, Reading, TimeEntry


class ItemErrorOut(Schema):
    index: int
    field: str
    message: str


class AlertOutcomeOut(Schema):
    alert_id: int
    measure: str
    severity: str
    opened: bool
    escalated: bool


class IngestOut(Schema):
    received: int
    accepted: int
    duplicates: int
    rejected: int
    duplicate_indexes: list[int]
    errors: list[ItemErrorOut]
    errors_truncated: bool
    alerts: list[AlertOutcomeOut]


MAX_ERRORS_SHOWN = 1000


def ingest_out(result: IngestResult) -> dict[str, Any]:
    errors = sorted(result.errors, key=lambda e: e.index)
    return {
        "received": result.received,
        "accepted": result.accepted,
        "duplicates": len(result.duplicates),
        "rejected": len(result.errors),
        "duplicate_indexes": sorted(result.duplicates)[:MAX_ERRORS_SHOWN],
        "errors": [e.as_dict() for e in errors[:MAX_ERRORS_SHOWN]],
        "errors_truncated": len(errors) > MAX_ERRORS_SHOWN,
        "alerts": [
            {
                "alert_id": a.alert_id,
                "measure": a.measure,
                "severity": a.severity,
                "opened": a.opened,
                "escalated": a.escalated,
            }
            for a in result.alerts
        ],
    }


class SingleReadingOut(Schema):
    status: str  # created | duplicate
    measure: str
    value: float
    unit: str
    effective_at: dt.datetime
    alerts: list[AlertOutcomeOut]


class ProgramOut(Schema):
    code: str
    name: str
    description: str
    measures: list[str]
    default_thresholds: dict[str, dict[str, float]]


def program_out(program: Program) -> ProgramOut:
    return ProgramOut(
        code=program.code,
        name=program.name,
        description=program.description,
        measures=list(program.measures),
        default_thresholds=program.default_thresholds,
    )


class ReadingOut(Schema):
    id: int
    measure: str
    value: float
    unit: str
    original_value: float | None
    original_unit: str
    effective_at: dt.datetime
    received_at: dt.datetime
    device_id: int
    source: str
    status: str
    error_reason: str


def reading_out(reading: Reading) -> ReadingOut:
    return ReadingOut(
        id=reading.pk,
        measure=reading.measure,
        value=reading.value,
        unit=reading.unit,
        original_value=reading.original_value,
        original_unit=reading.original_unit,
        effective_at=reading.effective_at,
        received_at=reading.received_at,
        device_id=reading.device_id,
        source=reading.source,
        status=reading.status,
        error_reason=reading.error_reason,
    )


class EnrollmentIn(Schema):
    program: Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]{1,40}$")]
    verbal_consent: bool = False
    thresholds: dict[str, dict[str, float | None]] = Field(default_factory=dict)


class EnrollmentOut(Schema):
    id: int
    patient_id: int
    program: str
    status: str
    enrolled_by_id: int
    created_at: dt.datetime
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    consent_version: str
    consent_method: str
    consent_accepted_at: dt.datetime | None
    thresholds: dict[str, Any]
    effective_thresholds: dict[str, dict[str, float]]
    episode_id: int | None


def enrollment_out(enrollment: Enrollment) -> EnrollmentOut:
    from carepath.rpm.selectors import enrollment_thresholds

    return EnrollmentOut(
        id=enrollment.pk,
        patient_id=enrollment.patient_id,
        program=enrollment.program.code,
        status=enrollment.status,
        enrolled_by_id=enrollment.enrolled_by_id,
        created_at=enrollment.created_at,
        started_at=enrollment.started_at,
        ended_at=enrollment.ended_at,
        consent_version=enrollment.consent_version,
        consent_method=enrollment.consent_method,
        consent_accepted_at=enrollment.consent_accepted_at,
        thresholds=enrollment.thresholds or {},
        effective_thresholds=enrollment_thresholds(enrollment),
        episode_id=enrollment.episode_id,
    )


class ConsentIn(Schema):
    version: Annotated[str, StringConstraints(max_length=40)]


class ThresholdsIn(Schema):
    thresholds: dict[str, dict[str, float | None]]


class ReasonIn(Schema):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class NoteIn(Schema):
    note: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class DeviceIn(Schema):
    device_type: Annotated[str, StringConstraints(max_length=20)]
    serial: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
    label: Annotated[str, StringConstraints(max_length=100)] = ""


class DeviceOut(Schema):
    id: int
    patient_id: int
    device_type: str
    serial: str
    label: str
    registered_at: dt.datetime
    revoked_at: dt.datetime | None
    last_seen_at: dt.datetime | None


def device_out(device: Device) -> DeviceOut:
    return DeviceOut(
        id=device.pk,
        patient_id=device.patient_id,
        device_type=device.device_type,
        serial=device.serial,
        label=device.label,
        registered_at=device.registered_at,
        revoked_at=device.revoked_at,
        last_seen_at=device.last_seen_at,
    )


class IssuedDeviceOut(DeviceOut):
    token: str


class AlertOut(Schema):
    id: int
    patient_id: int
    measure: str
    severity: str
    status: str
    reason: str
    opened_at: dt.datetime
    reading_count: int
    work_item_id: int | None
    resolved_at: dt.datetime | None
    resolution_note: str


def alert_out(alert: Alert) -> AlertOut:
    return AlertOut(
        id=alert.pk,
        patient_id=alert.patient_id,
        measure=alert.measure,
        severity=alert.severity,
        status=alert.status,
        reason=alert.reason,
        opened_at=alert.opened_at,
        reading_count=alert.reading_count,
        work_item_id=alert.work_item_id,
        resolved_at=alert.resolved_at,
        resolution_note=alert.resolution_note,
    )


class TimeEntryIn(Schema):
    kind: Annotated[str, StringConstraints(max_length=12)]
    minutes: int
    occurred_at: dt.datetime
    note: Annotated[str, StringConstraints(max_length=2000)] = ""


class TimeEntryOut(Schema):
    id: int
    clinician_id: int
    patient_id: int
    kind: str
    minutes: int | None
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    occurred_at: dt.datetime
    note: str
    status: str


def time_entry_out(entry: TimeEntry) -> TimeEntryOut:
    return TimeEntryOut(
        id=entry.pk,
        clinician_id=entry.clinician_id,
        patient_id=entry.patient_id,
        kind=entry.kind,
        minutes=entry.minutes,
        started_at=entry.started_at,
        ended_at=entry.ended_at,
        occurred_at=entry.occurred_at,
        note=entry.note,
        status=entry.status,
    )


class BillingPeriodOut(Schema):
    number: int
    start: dt.date
    end: dt.date
    in_progress: bool
    reading_days: int
    review_minutes: int
    interactive_minutes: int
    cpt_99453: bool
    cpt_99454: bool
    cpt_99457: bool
    cpt_99458: int
