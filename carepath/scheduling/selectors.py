"""Scheduling reads: the slot search, and appointments fetched through access_appointment().

Slots: each clinician's weekly hours are local wall-clock times in the clinician's zone
(zoneinfo, so 9:00 stays 9:00 local across a DST change), plus extra hours, minus time off,
minus booked appointments (with their buffers), minus the past; only clinicians licensed on that
day in the state the patient will be in, with the service line's specialty. The patient sees the
times in their own zone."""

import bisect
import datetime as dt
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from operator import itemgetter
from typing import TYPE_CHECKING, NamedTuple

from django.db.models import Q, QuerySet
from django.http import Http404

from carepath.access.selectors import deny, may_access_patient
from carepath.accounts.models import ClinicianProfile, License, PatientProfile, Role, User
from carepath.audit.actions import do_record_audit
from carepath.core import clock
from carepath.scheduling.models import (
    Appointment,
    AppointmentStatus,
    AvailabilityException,
    ExceptionKind,
    VisitType,
    WeeklyAvailability,
)

if TYPE_CHECKING:
    from carepath.care.models import EscalationRequest
    from carepath.intake.models import Case as IntakeCase
    from carepath.intake.models import ServiceLine

MAX_SEARCH_DAYS = 31
UTC = dt.UTC
Interval = tuple[dt.datetime, dt.datetime]


def zone_of(user: User) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(user.time_zone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def patient_state_of(patient: User) -> str:
    profile = PatientProfile.objects.filter(user=patient).only("state").first()
    return profile.state if profile else ""


class Slot(NamedTuple):
    """One bookable start time. starts_at/ends_at are UTC; `zone` is the viewer's zone.
    (A named tuple: a 14-day search over hundreds of clinicians makes tens of thousands.)"""

    starts_at: dt.datetime
    clinician_name: str
    clinician_id: int
    visit_type_id: int
    visit_type_name: str
    mode: str
    duration_minutes: int
    ends_at: dt.datetime
    zone: str = "UTC"

    @property
    def starts_local(self) -> dt.datetime:
        return self.starts_at.astimezone(zoneinfo.ZoneInfo(self.zone))

    @property
    def ends_local(self) -> dt.datetime:
        return self.ends_at.astimezone(zoneinfo.ZoneInfo(self.zone))

    @property
    def zone_abbreviation(self) -> str:
        return self.starts_local.tzname() or self.zone


@dataclass
class _Clinician:
    id: int
    name: str
    zone: zoneinfo.ZoneInfo
    license_expires_on: dt.date
    specialty_ids: set[int] = field(default_factory=set)
    weekly: list[tuple[int, dt.time, dt.time, dt.date, dt.date | None]] = field(
        default_factory=list
    )
    extra: list[Interval] = field(default_factory=list)
    time_off: list[Interval] = field(default_factory=list)
    busy: list[Interval] = field(default_factory=list)
    visit_types: list[VisitType] = field(default_factory=list)


def _to_utc(day: dt.date, moment: dt.time, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, moment, tzinfo=zone).astimezone(UTC)


def _merge(intervals: Iterable[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def _subtract(windows: list[Interval], holes: list[Interval]) -> list[Interval]:
    """windows minus holes; both sorted and merged."""
    if not holes:
        return windows
    result: list[Interval] = []
    for start, end in windows:
        cursor = start
        for hole_start, hole_end in holes:
            if hole_end <= cursor or hole_start >= end:
                continue
            if hole_start > cursor:
                result.append((cursor, hole_start))
            cursor = max(cursor, hole_end)
            if cursor >= end:
                break
        if cursor < end:
            result.append((cursor, end))
    return result


def _windows(clinician: _Clinician, first_day: dt.date, last_day: dt.date) -> list[Interval]:
    """Open hours in UTC for local days first_day..last_day (in the clinician's zone)."""
    by_weekday: dict[int, list[tuple[dt.time, dt.time, dt.date, dt.date | None]]] = defaultdict(
        list
    )
    for weekday, start, end, valid_from, valid_until in clinician.weekly:
        by_weekday[weekday].append((start, end, valid_from, valid_until))
    windows: list[Interval] = []
    day = first_day
    while day <= last_day:
        for start, end, valid_from, valid_until in by_weekday.get(day.weekday(), ()):
            if day < valid_from or (valid_until is not None and day > valid_until):
                continue
            windows.append((_to_utc(day, start, clinician.zone), _to_utc(day, end, clinician.zone)))
        day += dt.timedelta(days=1)
    windows.extend(clinician.extra)
    return _subtract(_merge(windows), _merge(clinician.time_off))


def _clinician_slots(
    clinician: _Clinician,
    *,
    lower: dt.datetime,
    upper: dt.datetime,
    viewer_zone: zoneinfo.ZoneInfo,
) -> list[Slot]:
    first_day = lower.astimezone(clinician.zone).date() - dt.timedelta(days=1)
    last_day = upper.astimezone(clinician.zone).date() + dt.timedelta(days=1)
    windows = _windows(clinician, first_day, last_day)
    busy = _merge(clinician.busy)
    busy_starts = [start for start, _ in busy]
    zone_name = str(viewer_zone.key)
    # Only a licence ending inside the searched days needs a per-slot check.
    licence_ok_throughout = clinician.license_expires_on >= upper.astimezone(viewer_zone).date()
    expires_on = clinician.license_expires_on
    slots: list[Slot] = []
    append = slots.append
    for visit_type in clinician.visit_types:
        length = dt.timedelta(minutes=visit_type.duration_minutes)
        blocked = length + dt.timedelta(minutes=visit_type.buffer_minutes)
        step = blocked
        type_id, type_name, mode = visit_type.pk, visit_type.name, visit_type.mode
        minutes = visit_type.duration_minutes
        for window_start, window_end in windows:
            if window_end <= lower or window_start >= upper:
                continue
            start = window_start
            if start < lower:
                # Keep the grid anchored at the window start.
                start += step * ((lower - start) // step)
                if start < lower:
                    start += step
            last_start = min(window_end - length, upper - dt.timedelta(microseconds=1))
            while start <= last_start:
                end = start + blocked
                index = bisect.bisect_left(busy_starts, end)
                if (index == 0 or busy[index - 1][1] <= start) and (
                    licence_ok_throughout or start.astimezone(viewer_zone).date() <= expires_on
                ):
                    append(
                        Slot(
                            start,
                            clinician.name,
                            clinician.id,
                            type_id,
                            type_name,
                            mode,
                            minutes,
                            start + length,
                            zone_name,
                        )
                    )
                start += step
    return slots


def _visit_types_for(
    clinicians: dict[int, _Clinician],
    *,
    service_line: "ServiceLine | None",
    visit_type: VisitType | None,
) -> None:
    """Attach the visit types each clinician offers: their own (for the service line when one
    is asked for), else the clinic-wide ones whose service line matches their specialties."""
    types = VisitType.objects.filter(active=True).filter(
        Q(clinician_id__in=list(clinicians)) | Q(clinician__isnull=True)
    )
    if service_line is not None:
        types = types.filter(service_line=service_line)
    if visit_type is not None:
        types = types.filter(pk=visit_type.pk)
    own: dict[int, list[VisitType]] = defaultdict(list)
    shared: list[VisitType] = []
    for item in types.select_related("service_line").order_by("name", "id"):
        if item.clinician_id is None:
            shared.append(item)
        else:
            own[item.clinician_id].append(item)
    for clinician in clinicians.values():
        mine = own.get(clinician.id)
        if mine:
            clinician.visit_types = mine
            continue
        clinician.visit_types = [
            item
            for item in shared
            if item.service_line is None
            or item.service_line.specialty_id in clinician.specialty_ids
        ]


def available_slots(
    *,
    service_line: "ServiceLine | None" = None,
    clinician: User | None = None,
    patient: User,
    start_date: dt.date,
    days: int,
    visit_type: VisitType | None = None,
    state: str = "",
    limit: int | None = None,
) -> list[Slot]:
    """Bookable slots for `patient` from `start_date` (a day in the patient's zone) for `days`
    days, for one service line and/or one clinician, ordered by time. Times are UTC; each Slot
    names the patient's zone for display."""
    days = max(1, min(days, MAX_SEARCH_DAYS))
    viewer_zone = zone_of(patient)
    state = state or patient_state_of(patient)
    if not state:
        return []
    range_start = _to_utc(start_date, dt.time(0), viewer_zone)
    upper = _to_utc(start_date + dt.timedelta(days=days), dt.time(0), viewer_zone)
    lower = max(range_start, clock.now().astimezone(UTC))
    if lower >= upper:
        return []
    first_local_day = lower.astimezone(viewer_zone).date()

    licenses = License.objects.filter(
        state=state,
        expires_on__gte=first_local_day,
        clinician__user__role=Role.CLINICIAN,
        clinician__user__is_active=True,
    )
    if service_line is not None:
        licenses = licenses.filter(clinician__specialties=service_line.specialty_id)
    if clinician is not None:
        licenses = licenses.filter(clinician__user_id=clinician.pk)
    rows = licenses.values_list(
        "clinician__user_id",
        "clinician__user__first_name",
        "clinician__user__last_name",
        "clinician__user__email",
        "clinician__user__time_zone",
        "expires_on",
        "clinician_id",
    ).distinct()
    clinicians: dict[int, _Clinician] = {}
    profile_to_user: dict[int, int] = {}
    for user_id, first, last, email, zone_name, expires_on, profile_id in rows:
        try:
            zone = zoneinfo.ZoneInfo(zone_name or "UTC")
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            zone = zoneinfo.ZoneInfo("UTC")
        name = f"{first} {last}".strip() or email
        clinicians[user_id] = _Clinician(user_id, name, zone, expires_on)
        profile_to_user[profile_id] = user_id
    if not clinicians:
        return []
    ids = list(clinicians)

    through = ClinicianProfile.specialties.through
    for profile_id, specialty_id in through.objects.filter(
        clinicianprofile_id__in=list(profile_to_user)
    ).values_list("clinicianprofile_id", "specialty_id"):
        clinicians[profile_to_user[profile_id]].specialty_ids.add(specialty_id)

    _visit_types_for(clinicians, service_line=service_line, visit_type=visit_type)
    ids = [user_id for user_id in ids if clinicians[user_id].visit_types]
    if not ids:
        return []

    margin = dt.timedelta(days=2)
    for user_id, weekday, start, end, valid_from, valid_until in WeeklyAvailability.objects.filter(
        Q(valid_until__isnull=True) | Q(valid_until__gte=(lower - margin).date()),
        clinician_id__in=ids,
        valid_from__lte=(upper + margin).date(),
    ).values_list("clinician_id", "weekday", "start_time", "end_time", "valid_from", "valid_until"):
        clinicians[user_id].weekly.append((weekday, start, end, valid_from, valid_until))
    for user_id, kind, starts_at, ends_at in AvailabilityException.objects.filter(
        clinician_id__in=ids, starts_at__lt=upper + margin, ends_at__gt=lower - margin
    ).values_list("clinician_id", "kind", "starts_at", "ends_at"):
        # One tzinfo everywhere (the database driver's UTC may be another object): comparing
        # datetimes with the same tzinfo is much cheaper in the slot loop.
        interval = (starts_at.astimezone(UTC), ends_at.astimezone(UTC))
        if kind == ExceptionKind.EXTRA_HOURS:
            clinicians[user_id].extra.append(interval)
        else:
            clinicians[user_id].time_off.append(interval)
    for user_id, starts_at, blocks_until in Appointment.objects.filter(
        clinician_id__in=ids,
        status=AppointmentStatus.BOOKED,
        starts_at__lt=upper + margin,
        blocks_until__gt=lower - margin,
    ).values_list("clinician_id", "starts_at", "blocks_until"):
        clinicians[user_id].busy.append((starts_at.astimezone(UTC), blocks_until.astimezone(UTC)))

    slots: list[Slot] = []
    # Clinicians in name order, then a stable sort on the start alone: ordered by (start, name)
    # without comparing whole tuples.
    for user_id in sorted(ids, key=lambda user_id: (clinicians[user_id].name, user_id)):
        slots.extend(
            _clinician_slots(clinicians[user_id], lower=lower, upper=upper, viewer_zone=viewer_zone)
        )
    slots.sort(key=itemgetter(0))
    return slots[:limit] if limit is not None else slots


def is_slot_available(
    *,
    patient: User,
    clinician: User,
    visit_type: VisitType,
    starts_at: dt.datetime,
    state: str,
) -> bool:
    """Is this exact start a bookable slot right now (hours, exceptions, bookings, licence)?"""
    local_day = starts_at.astimezone(zone_of(patient)).date()
    return any(
        slot.starts_at == starts_at
        for slot in available_slots(
            clinician=clinician,
            patient=patient,
            visit_type=visit_type,
            start_date=local_day - dt.timedelta(days=1),
            days=3,
            state=state,
        )
    )


# --- Appointments -------------------------------------------------------------------------

# Staff roles that may see an appointment of a patient they have a care relationship with.
OVERSIGHT_ROLES = frozenset({Role.COORDINATOR, Role.TELEFACILITATOR, Role.ADMIN})


def may_see_appointment(user: User, appointment: Appointment) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    if user.role == Role.PATIENT:
        return bool(appointment.patient_id == user.pk)
    if user.role == Role.CLINICIAN:
        return bool(appointment.clinician_id == user.pk)
    return user.role in OVERSIGHT_ROLES and may_access_patient(user, appointment.patient_id)


def access_appointment(
    user: User, appointment_id: int, *, action: str = "appointment.read"
) -> Appointment:
    """Fetch and authorize one appointment: the patient, its clinician, or oversight staff with a
    care relationship; anyone else gets a 404 (audited)."""
    appointment = (
        Appointment.objects.select_related("visit_type", "patient", "clinician")
        .filter(pk=appointment_id)
        .first()
    )
    if appointment is None or not may_see_appointment(user, appointment):
        raise deny(
            user, "appointment", appointment_id, appointment.patient_id if appointment else None
        )
    do_record_audit(
        action,
        actor=user,
        object_type="appointment",
        object_id=appointment.pk,
        patient_id=appointment.patient_id,
    )
    return appointment


def appointments_for_patient(patient: User, *, upcoming: bool = True) -> QuerySet[Appointment]:
    appointments = Appointment.objects.filter(patient=patient).select_related(
        "visit_type", "clinician"
    )
    if upcoming:
        appointments = appointments.filter(status=AppointmentStatus.BOOKED, ends_at__gt=clock.now())
    return appointments.order_by("starts_at")


def appointments_for_clinician(clinician: User, *, upcoming: bool = True) -> QuerySet[Appointment]:
    appointments = Appointment.objects.filter(clinician=clinician).select_related(
        "visit_type", "patient"
    )
    if upcoming:
        # Include visits that started recently, so no-shows can be marked.
        appointments = appointments.filter(
            status=AppointmentStatus.BOOKED,
            ends_at__gt=clock.now() - dt.timedelta(hours=12),
        )
    return appointments.order_by("starts_at")


def audit_listed(user: User, appointments: Iterable[Appointment]) -> None:
    for appointment in appointments:
        do_record_audit(
            "appointment.list",
            actor=user,
            object_type="appointment",
            object_id=appointment.pk,
            patient_id=appointment.patient_id,
        )


def intake_case_for(appointment: Appointment) -> "IntakeCase | None":
    """The intake the patient completed for this visit (when its visit type requires one), for
    the clinician's view in the visit: the one linked at booking, else the patient's latest
    submitted intake for the visit type's service line. Call after access_appointment()."""
    if appointment.intake_case_id is not None:
        return appointment.intake_case
    visit_type = appointment.visit_type
    if not visit_type.requires_intake or visit_type.service_line_id is None:
        return None
    return latest_intake_case(appointment.patient, visit_type.service_line_id)


def service_line_by_code(code: str) -> "ServiceLine | None":
    from carepath.intake.models import ServiceLine

    return ServiceLine.objects.filter(code=code, active=True).first()


def active_service_lines() -> "QuerySet[ServiceLine]":
    from carepath.intake.models import ServiceLine

    return ServiceLine.objects.filter(active=True).order_by("sort_order", "name")


def latest_intake_case(patient: User, service_line_id: int) -> "IntakeCase | None":
    """The patient's most recent submitted intake for a service line (last 30 days)."""
    from carepath.intake.models import Case, CaseStatus

    return (
        Case.objects.filter(
            patient=patient,
            service_line_id=service_line_id,
            submitted_at__gte=clock.now() - dt.timedelta(days=30),
        )
        .exclude(status=CaseStatus.DRAFT)
        .order_by("-submitted_at", "-pk")
        .first()
    )


def get_visit_type(visit_type_id: int) -> VisitType:
    visit_type = VisitType.objects.select_related("service_line").filter(pk=visit_type_id).first()
    if visit_type is None:
        raise Http404("No visit type with that id.")
    return visit_type


def visit_types_of(clinician: User) -> QuerySet[VisitType]:
    return VisitType.objects.filter(clinician=clinician).select_related("service_line")


def weekly_hours_of(clinician: User) -> QuerySet[WeeklyAvailability]:
    return WeeklyAvailability.objects.filter(clinician=clinician).order_by("weekday", "start_time")


def exceptions_of(clinician: User, *, upcoming: bool = True) -> QuerySet[AvailabilityException]:
    exceptions = AvailabilityException.objects.filter(clinician=clinician)
    if upcoming:
        exceptions = exceptions.filter(ends_at__gt=clock.now())
    return exceptions.order_by("starts_at")


# --- Escalations from an async case --------------------------------------------------------


@dataclass(frozen=True)
class EscalationBooking:
    """What a booking for an escalation is pre-filtered by: the case's service line (so the
    clinician has the right specialty), the state the patient was in, the escalating
    clinician (offered first) and the mode wanted."""

    escalation: "EscalationRequest"
    case: "IntakeCase"
    service_line: "ServiceLine"
    state: str
    clinician: User | None
    mode: str


def escalation_booking(patient: User, escalation_id: int) -> EscalationBooking | None:
    """The patient's own escalation still waiting for a booking (None for anything else:
    another patient's, already booked or completed, or its episode closed)."""
    from carepath.care.models import EpisodeStatus, EscalationRequest, EscalationStatus
    from carepath.intake.models import Case as IntakeCase

    escalation = (
        EscalationRequest.objects.select_related("encounter__episode", "requested_by")
        .filter(
            pk=escalation_id,
            status=EscalationStatus.REQUESTED,
            encounter__episode__patient=patient,
            encounter__episode__status=EpisodeStatus.OPEN,
        )
        .first()
    )
    if escalation is None:
        return None
    case = (
        IntakeCase.objects.select_related("service_line")
        .filter(encounter_id=escalation.encounter_id)
        .first()
    )
    if case is None:
        return None
    requested_by = escalation.requested_by
    return EscalationBooking(
        escalation=escalation,
        case=case,
        service_line=case.service_line,
        state=case.state_at_submission,
        clinician=requested_by if requested_by and requested_by.role == Role.CLINICIAN else None,
        mode="video" if escalation.mode_wanted == "facilitated" else escalation.mode_wanted,
    )


def escalation_slots(
    booking: EscalationBooking,
    *,
    patient: User,
    start_date: dt.date,
    days: int,
    same_clinician: bool,
    limit: int | None = None,
) -> list[Slot]:
    """Slots for an escalation: with the escalating clinician, or any clinician licensed in
    the patient's state with the service line's specialty; of the wanted mode when any are
    offered (the mode can also change inside the visit)."""
    slots = available_slots(
        service_line=booking.service_line,
        clinician=booking.clinician if same_clinician else None,
        patient=patient,
        start_date=start_date,
        days=days,
        state=booking.state,
    )
    matching = [slot for slot in slots if slot.mode == booking.mode]
    chosen = matching or slots
    return chosen[:limit] if limit is not None else chosen


def clinician_has_specialty(clinician: User, specialty_id: int) -> bool:
    return ClinicianProfile.objects.filter(user=clinician, specialties=specialty_id).exists()
