"""/api/v1/scheduling: slots, appointments (book, reschedule, cancel, no-show), and the
clinician's own hours, exceptions and visit types."""

import dataclasses
import datetime as dt

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status
from pydantic import Field

from carepath.access.selectors import access_patient, deny
from carepath.accounts.models import Role, User
from carepath.core import clock
from carepath.core.api import current_user, only
from carepath.core.errors import ActionRefused
from carepath.core.idempotency import idempotency_key
from carepath.scheduling import actions
from carepath.scheduling.idempotent import idempotent_create
from carepath.scheduling.invites import build_ics
from carepath.scheduling.models import AppointmentStatus, VisitType
from carepath.scheduling.schemas import (
    AppointmentOut,
    BookIn,
    CancelIn,
    ExceptionIn,
    ExceptionOut,
    RescheduleIn,
    SlotOut,
    VisitTypeIn,
    VisitTypeOut,
    WeeklyIn,
    WeeklyOut,
    appointment_out,
    exception_out,
    slot_out,
    visit_type_out,
    weekly_out,
)
from carepath.scheduling.selectors import (
    MAX_SEARCH_DAYS,
    access_appointment,
    appointments_for_clinician,
    appointments_for_patient,
    audit_listed,
    available_slots,
    escalation_booking,
    escalation_slots,
    exceptions_of,
    service_line_by_code,
    visit_types_of,
    weekly_hours_of,
    zone_of,
)

router = Router(tags=["scheduling"])

PATIENT_OR_BOOKING_STAFF = (Role.PATIENT, Role.CLINICIAN, Role.COORDINATOR, Role.ADMIN)


def _viewer_zone(user: User) -> str:
    return zone_of(user).key


def _patient_for(actor: User, patient_id: int | None, action: str) -> User:
    """The patient a call is about: the caller, or (staff) a patient they may access."""
    if actor.role == Role.PATIENT:
        if patient_id not in (None, actor.pk):
            raise ActionRefused("not_found", "No patient with that id.", status=404)
        return actor
    if patient_id is None:
        raise ActionRefused("patient_required", "Name the patient.", field="patient_id")
    return access_patient(actor, patient_id, action=action).user


def _clinician(clinician_id: int | None) -> User | None:
    if clinician_id is None:
        return None
    clinician = User.objects.filter(pk=clinician_id, role=Role.CLINICIAN, is_active=True).first()
    if clinician is None:
        raise ActionRefused("unknown_clinician", "No clinician with that id.", field="clinician_id")
    return clinician


def _visit_type(visit_type_id: int | None) -> VisitType | None:
    if visit_type_id is None:
        return None
    visit_type = VisitType.objects.filter(pk=visit_type_id).first()
    if visit_type is None:
        raise ActionRefused(
            "unknown_visit_type", "No visit type with that id.", field="visit_type_id"
        )
    return visit_type


# --- Slots ------------------------------------------------------------------------------


class SlotQuery(Schema):
    service_line: str | None = Field(default=None, description="Service line code")
    clinician_id: int | None = None
    visit_type_id: int | None = None
    start_date: dt.date | None = Field(default=None, description="In the patient's zone")
    days: int = Field(default=7, ge=1, le=MAX_SEARCH_DAYS)
    state: str = Field(default="", max_length=2, description="State during the visit")
    patient_id: int | None = Field(default=None, description="Staff searching for a patient")
    limit: int = Field(default=200, ge=1, le=2000)
    escalation_id: int | None = Field(
        default=None,
        description="Times for the live visit a clinician asked for from an async case: the "
        "case's service line and state; with clinician_id, that clinician only",
    )


@router.get(
    "/slots",
    response=list[SlotOut],
    summary="Bookable slots, in the patient's time zone (service line and/or clinician)",
    auth=only(*PATIENT_OR_BOOKING_STAFF),
)
def search_slots(request: HttpRequest, query: Query[SlotQuery]) -> list[SlotOut]:
    actor = current_user(request)
    patient = _patient_for(actor, query.patient_id, "slots.search")
    if query.escalation_id is not None:
        return _escalation_slots(actor, patient, query)
    service_line = None
    if query.service_line:
        service_line = service_line_by_code(query.service_line)
        if service_line is None:
            raise ActionRefused(
                "unknown_service_line", "No service line with that code.", field="service_line"
            )
    clinician = _clinician(query.clinician_id)
    if service_line is None and clinician is None:
        raise ActionRefused(
            "criteria_required", "Choose a service line or a clinician.", field="service_line"
        )
    start_date = query.start_date or clock.now().astimezone(zone_of(patient)).date()
    slots = available_slots(
        service_line=service_line,
        clinician=clinician,
        patient=patient,
        visit_type=_visit_type(query.visit_type_id),
        start_date=start_date,
        days=query.days,
        state=query.state.upper(),
        limit=query.limit,
    )
    return [slot_out(slot) for slot in slots]


def _escalation_slots(actor: User, patient: User, query: SlotQuery) -> list[SlotOut]:
    assert query.escalation_id is not None
    booking = escalation_booking(patient, query.escalation_id)
    if booking is None:
        raise deny(actor, "escalation", query.escalation_id, patient.pk)
    clinician = _clinician(query.clinician_id)
    if clinician is not None:
        booking = dataclasses.replace(booking, clinician=clinician)
    slots = escalation_slots(
        booking,
        patient=patient,
        start_date=query.start_date or clock.now().astimezone(zone_of(patient)).date(),
        days=query.days,
        same_clinician=clinician is not None,
        limit=query.limit,
    )
    return [slot_out(slot) for slot in slots]


# --- Appointments ------------------------------------------------------------------------


@router.post(
    "/appointments",
    response={201: AppointmentOut},
    summary="Book a slot (send an Idempotency-Key header; a retry returns the same booking)",
    auth=only(*PATIENT_OR_BOOKING_STAFF),
)
def book(request: HttpRequest, payload: BookIn) -> Status[AppointmentOut]:
    actor = current_user(request)
    key = idempotency_key(request)
    # Resolved (and any denial audited) outside the idempotent transaction.
    patient = _patient_for(actor, payload.patient_id, "appointment.book")
    clinician = _clinician(payload.clinician_id)
    visit_type = _visit_type(payload.visit_type_id)
    assert clinician is not None
    assert visit_type is not None

    def create() -> int:
        appointment = actions.do_book(
            actor,
            patient=patient,
            clinician=clinician,
            visit_type=visit_type,
            starts_at=payload.starts_at,
            patient_state=payload.patient_state.upper(),
            escalation_id=payload.escalation_id,
        )
        return int(appointment.pk)

    appointment_id = idempotent_create(
        key,
        actor,
        scope="scheduling.book",
        payload=payload.model_dump(mode="json"),
        create=create,
    )
    appointment = access_appointment(actor, appointment_id)
    return Status(201, appointment_out(appointment, _viewer_zone(actor)))


@router.get(
    "/appointments",
    response=list[AppointmentOut],
    summary="My appointments (patient: mine; clinician: with me)",
    auth=only(Role.PATIENT, Role.CLINICIAN),
)
def list_appointments(request: HttpRequest, upcoming: bool = True) -> list[AppointmentOut]:
    actor = current_user(request)
    if actor.role == Role.PATIENT:
        appointments = list(appointments_for_patient(actor, upcoming=upcoming)[:200])
    else:
        appointments = list(appointments_for_clinician(actor, upcoming=upcoming)[:200])
    audit_listed(actor, appointments)
    return [appointment_out(item, _viewer_zone(actor)) for item in appointments]


@router.get(
    "/appointments/{int:appointment_id}", response=AppointmentOut, summary="One appointment"
)
def get_appointment(request: HttpRequest, appointment_id: int) -> AppointmentOut:
    actor = current_user(request)
    return appointment_out(access_appointment(actor, appointment_id), _viewer_zone(actor))


@router.get(
    "/appointments/{int:appointment_id}/invite.ics",
    summary="The calendar invite (.ics) of one appointment",
)
def get_invite(request: HttpRequest, appointment_id: int) -> HttpResponse:
    appointment = access_appointment(current_user(request), appointment_id)
    method = "REQUEST" if appointment.status == AppointmentStatus.BOOKED else "CANCEL"
    response = HttpResponse(
        build_ics(appointment, method=method), content_type=f"text/calendar; method={method}"
    )
    response["Content-Disposition"] = 'attachment; filename="carepath-visit.ics"'
    return response


@router.post(
    "/appointments/{int:appointment_id}/cancel",
    response=AppointmentOut,
    summary="Cancel (patients until the cutoff, staff any time before the end)",
)
def cancel(request: HttpRequest, appointment_id: int, payload: CancelIn) -> AppointmentOut:
    actor = current_user(request)
    appointment = access_appointment(actor, appointment_id)
    appointment = actions.do_cancel(actor, appointment, reason=payload.reason)
    return appointment_out(access_appointment(actor, appointment.pk), _viewer_zone(actor))


@router.post(
    "/appointments/{int:appointment_id}/reschedule",
    response={201: AppointmentOut},
    summary="Move to another slot: a new appointment replaces this one",
)
def reschedule(
    request: HttpRequest, appointment_id: int, payload: RescheduleIn
) -> Status[AppointmentOut]:
    actor = current_user(request)
    appointment = access_appointment(actor, appointment_id)
    new = actions.do_reschedule(
        actor,
        appointment,
        starts_at=payload.starts_at,
        clinician=_clinician(payload.clinician_id),
        visit_type=_visit_type(payload.visit_type_id),
        patient_state=payload.patient_state.upper(),
    )
    return Status(201, appointment_out(access_appointment(actor, new.pk), _viewer_zone(actor)))


@router.post(
    "/appointments/{int:appointment_id}/no-show",
    response=AppointmentOut,
    summary="Mark a no-show (the visit's clinician, after the start)",
    auth=only(Role.CLINICIAN),
)
def no_show(request: HttpRequest, appointment_id: int) -> AppointmentOut:
    actor = current_user(request)
    appointment = access_appointment(actor, appointment_id)
    actions.do_mark_no_show(actor, appointment)
    return appointment_out(access_appointment(actor, appointment.pk), _viewer_zone(actor))


# --- The clinician's own availability -----------------------------------------------------


@router.get(
    "/availability/weekly",
    response=list[WeeklyOut],
    summary="My weekly hours (local times in my zone)",
    auth=only(Role.CLINICIAN),
)
def list_weekly(request: HttpRequest) -> list[WeeklyOut]:
    return [weekly_out(rule) for rule in weekly_hours_of(current_user(request))]


@router.post(
    "/availability/weekly",
    response={201: WeeklyOut},
    summary="Add weekly hours",
    auth=only(Role.CLINICIAN),
)
def add_weekly(request: HttpRequest, payload: WeeklyIn) -> Status[WeeklyOut]:
    rule = actions.do_add_weekly_hours(
        current_user(request),
        weekday=payload.weekday,
        start_time=payload.start_time,
        end_time=payload.end_time,
        valid_from=payload.valid_from,
        valid_until=payload.valid_until,
    )
    return Status(201, weekly_out(rule))


@router.delete(
    "/availability/weekly/{int:rule_id}",
    response={204: None},
    summary="End (or remove, if not started) weekly hours",
    auth=only(Role.CLINICIAN),
)
def remove_weekly(request: HttpRequest, rule_id: int) -> Status[None]:
    actions.do_remove_weekly_hours(current_user(request), rule_id)
    return Status(204, None)


@router.get(
    "/availability/exceptions",
    response=list[ExceptionOut],
    summary="My upcoming exceptions (time off, extra hours)",
    auth=only(Role.CLINICIAN),
)
def list_exceptions(request: HttpRequest) -> list[ExceptionOut]:
    return [exception_out(item) for item in exceptions_of(current_user(request))]


@router.post(
    "/availability/exceptions",
    response={201: ExceptionOut},
    summary="Add time off or extra hours",
    auth=only(Role.CLINICIAN),
)
def add_exception(request: HttpRequest, payload: ExceptionIn) -> Status[ExceptionOut]:
    exception = actions.do_add_exception(
        current_user(request),
        kind=payload.kind,
        starts_at=payload.starts_at,
        ends_at=payload.ends_at,
        reason=payload.reason,
    )
    return Status(201, exception_out(exception))


@router.delete(
    "/availability/exceptions/{int:exception_id}",
    response={204: None},
    summary="Remove an exception",
    auth=only(Role.CLINICIAN),
)
def remove_exception(request: HttpRequest, exception_id: int) -> Status[None]:
    actions.do_remove_exception(current_user(request), exception_id)
    return Status(204, None)


@router.get(
    "/visit-types",
    response=list[VisitTypeOut],
    summary="My visit types",
    auth=only(Role.CLINICIAN),
)
def list_visit_types(request: HttpRequest) -> list[VisitTypeOut]:
    return [visit_type_out(item) for item in visit_types_of(current_user(request))]


@router.post(
    "/visit-types",
    response={201: VisitTypeOut},
    summary="Create a visit type",
    auth=only(Role.CLINICIAN),
)
def create_visit_type(request: HttpRequest, payload: VisitTypeIn) -> Status[VisitTypeOut]:
    visit_type = actions.do_save_visit_type(
        current_user(request),
        name=payload.name,
        duration_minutes=payload.duration_minutes,
        mode=payload.mode,
        buffer_minutes=payload.buffer_minutes,
        service_line_code=payload.service_line,
        requires_intake=payload.requires_intake,
        active=payload.active,
    )
    return Status(201, visit_type_out(visit_type))


@router.put(
    "/visit-types/{int:visit_type_id}",
    response=VisitTypeOut,
    summary="Update one of my visit types",
    auth=only(Role.CLINICIAN),
)
def update_visit_type(
    request: HttpRequest, visit_type_id: int, payload: VisitTypeIn
) -> VisitTypeOut:
    visit_type = actions.do_save_visit_type(
        current_user(request),
        visit_type_id=visit_type_id,
        name=payload.name,
        duration_minutes=payload.duration_minutes,
        mode=payload.mode,
        buffer_minutes=payload.buffer_minutes,
        service_line_code=payload.service_line,
        requires_intake=payload.requires_intake,
        active=payload.active,
    )
    return visit_type_out(visit_type)
