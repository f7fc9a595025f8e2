import datetime as dt
from typing import Annotated

from ninja import Schema
from pydantic import Field, StringConstraints

from carepath.scheduling.models import (
    Appointment,
    AppointmentStatus,
    AvailabilityException,
    ExceptionKind,
    VisitMode,
    VisitType,
    WeeklyAvailability,
)
from carepath.scheduling.selectors import Slot, zone_of


class SlotOut(Schema):
    clinician_id: int
    clinician_name: str
    visit_type_id: int
    visit_type_name: str
    mode: str
    duration_minutes: int
    starts_at: dt.datetime = Field(description="UTC")
    ends_at: dt.datetime = Field(description="UTC")
    starts_local: dt.datetime = Field(description="In the patient's zone, with its offset")
    zone: str
    zone_abbreviation: str


def slot_out(slot: Slot) -> SlotOut:
    return SlotOut(
        clinician_id=slot.clinician_id,
        clinician_name=slot.clinician_name,
        visit_type_id=slot.visit_type_id,
        visit_type_name=slot.visit_type_name,
        mode=slot.mode,
        duration_minutes=slot.duration_minutes,
        starts_at=slot.starts_at,
        ends_at=slot.ends_at,
        starts_local=slot.starts_local,
        zone=slot.zone,
        zone_abbreviation=slot.zone_abbreviation,
    )


class AppointmentOut(Schema):
    id: int
    patient_id: int
    clinician_id: int
    clinician_name: str
    visit_type_id: int
    visit_type_name: str
    mode: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    starts_local: dt.datetime = Field(description="In the viewer's zone")
    zone: str
    status: AppointmentStatus
    patient_state: str
    booked_at: dt.datetime
    cancelled_at: dt.datetime | None
    cancel_reason: str
    rescheduled_from_id: int | None
    reminder_version: int
    requires_intake: bool
    intake_case_id: int | None
    episode_id: int | None
    encounter_id: int | None


def appointment_out(appointment: Appointment, viewer_zone: str | None = None) -> AppointmentOut:
    import zoneinfo

    zone = zoneinfo.ZoneInfo(viewer_zone) if viewer_zone else zone_of(appointment.patient)
    return AppointmentOut(
        id=appointment.pk,
        patient_id=appointment.patient_id,
        clinician_id=appointment.clinician_id,
        clinician_name=appointment.clinician.display_name,
        visit_type_id=appointment.visit_type_id,
        visit_type_name=appointment.visit_type.name,
        mode=appointment.visit_type.mode,
        starts_at=appointment.starts_at,
        ends_at=appointment.ends_at,
        starts_local=appointment.starts_at.astimezone(zone),
        zone=zone.key,
        status=AppointmentStatus(appointment.status),
        patient_state=appointment.patient_state,
        booked_at=appointment.booked_at,
        cancelled_at=appointment.cancelled_at,
        cancel_reason=appointment.cancel_reason,
        rescheduled_from_id=appointment.rescheduled_from_id,
        reminder_version=appointment.reminder_version,
        requires_intake=appointment.visit_type.requires_intake,
        intake_case_id=appointment.intake_case_id,
        episode_id=appointment.episode_id,
        encounter_id=appointment.encounter_id,
    )


class BookIn(Schema):
    clinician_id: int
    visit_type_id: int
    starts_at: dt.datetime = Field(description="An exact slot start (any offset; UTC stored)")
    patient_state: str = Field(default="", max_length=2, description="State during the visit")
    patient_id: int | None = Field(default=None, description="Staff booking for a patient")
    escalation_id: int | None = Field(
        default=None,
        description="Book the live visit a clinician asked for from an async case: the "
        "appointment lands in the case's episode",
    )


class RescheduleIn(Schema):
    starts_at: dt.datetime
    clinician_id: int | None = None
    visit_type_id: int | None = None
    patient_state: str = Field(default="", max_length=2)


class CancelIn(Schema):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""


class WeeklyIn(Schema):
    weekday: int = Field(ge=0, le=6, description="0 = Monday")
    start_time: dt.time = Field(description="Local time in the clinician's zone")
    end_time: dt.time
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None


class WeeklyOut(Schema):
    id: int
    weekday: int
    start_time: dt.time
    end_time: dt.time
    valid_from: dt.date
    valid_until: dt.date | None
    zone: str


def weekly_out(rule: WeeklyAvailability) -> WeeklyOut:
    return WeeklyOut(
        id=rule.pk,
        weekday=rule.weekday,
        start_time=rule.start_time,
        end_time=rule.end_time,
        valid_from=rule.valid_from,
        valid_until=rule.valid_until,
        zone=zone_of(rule.clinician).key,
    )


class ExceptionIn(Schema):
    kind: ExceptionKind
    starts_at: dt.datetime = Field(description="With an offset")
    ends_at: dt.datetime
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""


class ExceptionOut(Schema):
    id: int
    kind: ExceptionKind
    starts_at: dt.datetime
    ends_at: dt.datetime
    reason: str


def exception_out(exception: AvailabilityException) -> ExceptionOut:
    return ExceptionOut(
        id=exception.pk,
        kind=ExceptionKind(exception.kind),
        starts_at=exception.starts_at,
        ends_at=exception.ends_at,
        reason=exception.reason,
    )


class VisitTypeIn(Schema):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    duration_minutes: int = Field(ge=5, le=480)
    mode: VisitMode
    buffer_minutes: int = Field(default=0, ge=0, le=240)
    service_line: str | None = Field(default=None, description="A service line code")
    requires_intake: bool = False
    active: bool = True


class VisitTypeOut(Schema):
    id: int
    clinician_id: int | None
    name: str
    duration_minutes: int
    mode: VisitMode
    buffer_minutes: int
    service_line: str | None
    requires_intake: bool
    active: bool


def visit_type_out(visit_type: VisitType) -> VisitTypeOut:
    return VisitTypeOut(
        id=visit_type.pk,
        clinician_id=visit_type.clinician_id,
        name=visit_type.name,
        duration_minutes=visit_type.duration_minutes,
        mode=VisitMode(visit_type.mode),
        buffer_minutes=visit_type.buffer_minutes,
        service_line=visit_type.service_line.code if visit_type.service_line else None,
        requires_intake=visit_type.requires_intake,
        active=visit_type.active,
    )
