"""Reads for remote monitoring. Everything about a patient goes through access_*(): it
authorizes (the patient themself, or staff with access to the patient), audits, and answers
404 for what the user may not see."""

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from django.db.models import Max, QuerySet

from carepath.access.selectors import access_patient, deny, may_access_patient
from carepath.accounts.models import PatientProfile, Role, User
from carepath.core import clock
from carepath.rpm.models import (
    Alert,
    AlertStatus,
    Device,
    Enrollment,
    Program,
    Reading,
    ReadingStatus,
    TimeEntry,
)
from carepath.rpm.thresholds import Thresholds, effective_thresholds, most_sensitive
from carepath.rpm.tokens import secret_matches, split_device_token

DEVICE_LAST_SEEN_PRECISION = dt.timedelta(minutes=5)


# --- Devices -----------------------------------------------------------------------------------


def authenticate_device_token(raw: str) -> Device | None:
    """The active device a token belongs to, or None (unknown, wrong secret, revoked)."""
    parts = split_device_token(raw)
    if parts is None:
        return None
    prefix, secret = parts
    device = Device.objects.filter(token_prefix=prefix).first()
    if device is None or not secret_matches(secret, device.token_hash):
        return None
    if device.revoked_at is not None:
        return None
    return device


def devices_of(patient_id: int) -> QuerySet[Device]:
    return Device.objects.filter(patient_id=patient_id).select_related("registered_by")


# --- Patients, enrollments, thresholds ---------------------------------------------------------


def access_rpm_patient(user: User, patient_id: int, *, action: str = "rpm.read") -> PatientProfile:
    """The patient's monitoring record: the patient themself or staff with access."""
    return access_patient(user, patient_id, action=action)


def programs() -> QuerySet[Program]:
    return Program.objects.filter(is_active=True)


def enrollments_of(patient_id: int) -> QuerySet[Enrollment]:
    return Enrollment.objects.filter(patient_id=patient_id).select_related(
        "program", "enrolled_by", "consent_attested_by"
    )


def active_enrollments(patient_id: int) -> list[Enrollment]:
    """Enrollments under way: consent given, not ended (one query)."""
    return list(
        Enrollment.objects.filter(
            patient_id=patient_id, started_at__isnull=False, ended_at__isnull=True
        ).select_related("program")
    )


def enrollment_thresholds(enrollment: Enrollment) -> Thresholds:
    return effective_thresholds(enrollment.program.default_thresholds, enrollment.thresholds or {})


def patient_thresholds(enrollments: list[Enrollment]) -> Thresholds:
    return most_sensitive(enrollment_thresholds(e) for e in enrollments)


def watched_measures(enrollments: list[Enrollment]) -> list[str]:
    from carepath.rpm.measures import MEASURE_ORDER

    watched = {m for e in enrollments for m in e.program.measures}
    return [m for m in MEASURE_ORDER if m in watched]


def _owned(user: User, patient_id: int, object_type: str, object_id: int) -> None:
    if not may_access_patient(user, patient_id):
        raise deny(user, object_type, object_id, patient_id)


def access_enrollment(
    user: User, enrollment_id: int, *, action: str = "rpm.enrollment.read"
) -> Enrollment:
    from carepath.audit.actions import do_record_audit

    enrollment = enrollments_of_any().filter(pk=enrollment_id).first()
    if enrollment is None:
        raise deny(user, "rpm_enrollment", enrollment_id, None)
    _owned(user, enrollment.patient_id, "rpm_enrollment", enrollment_id)
    do_record_audit(
        action,
        actor=user,
        object_type="rpm_enrollment",
        object_id=enrollment.pk,
        patient_id=enrollment.patient_id,
    )
    return enrollment


def enrollments_of_any() -> QuerySet[Enrollment]:
    return Enrollment.objects.select_related("program", "patient")


def access_device(user: User, device_id: int, *, action: str = "rpm.device.read") -> Device:
    from carepath.audit.actions import do_record_audit

    device = Device.objects.filter(pk=device_id).first()
    if device is None:
        raise deny(user, "rpm_device", device_id, None)
    _owned(user, device.patient_id, "rpm_device", device_id)
    do_record_audit(
        action,
        actor=user,
        object_type="rpm_device",
        object_id=device.pk,
        patient_id=device.patient_id,
    )
    return device


def access_alert(user: User, alert_id: int, *, action: str = "rpm.alert.read") -> Alert:
    from carepath.audit.actions import do_record_audit

    alert = Alert.objects.select_related("work_item").filter(pk=alert_id).first()
    if alert is None:
        raise deny(user, "rpm_alert", alert_id, None)
    _owned(user, alert.patient_id, "rpm_alert", alert_id)
    do_record_audit(
        action,
        actor=user,
        object_type="rpm_alert",
        object_id=alert.pk,
        patient_id=alert.patient_id,
    )
    return alert


def access_reading(user: User, reading_id: int, *, action: str = "rpm.reading.read") -> Reading:
    from carepath.audit.actions import do_record_audit

    reading = Reading.objects.filter(pk=reading_id).first()
    if reading is None:
        raise deny(user, "rpm_reading", reading_id, None)
    _owned(user, reading.patient_id, "rpm_reading", reading_id)
    do_record_audit(
        action,
        actor=user,
        object_type="rpm_reading",
        object_id=reading.pk,
        patient_id=reading.patient_id,
    )
    return reading


def access_time_entry(user: User, entry_id: int) -> TimeEntry:
    """Only its own clinician changes a time entry."""
    entry = TimeEntry.objects.filter(pk=entry_id).first()
    if entry is None or entry.clinician_id != user.pk:
        raise deny(user, "rpm_time_entry", entry_id, entry.patient_id if entry else None)
    return entry


# --- Readings ----------------------------------------------------------------------------------


def readings_of(
    patient_id: int,
    *,
    measure: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    include_errors: bool = False,
) -> QuerySet[Reading]:
    readings = Reading.objects.filter(patient_id=patient_id)
    if not include_errors:
        readings = readings.filter(status=ReadingStatus.VALID)
    if measure:
        readings = readings.filter(measure=measure)
    if since is not None:
        readings = readings.filter(effective_at__gte=since)
    if until is not None:
        readings = readings.filter(effective_at__lt=until)
    return readings


def series(
    patient_id: int, measure: str, since: dt.datetime, until: dt.datetime
) -> list[tuple[dt.datetime, float]]:
    """(time, value) of valid readings, oldest first, for a chart."""
    rows = (
        readings_of(patient_id, measure=measure, since=since, until=until)
        .order_by("effective_at")
        .values_list("effective_at", "value")
    )
    return list(rows)


def measures_with_readings(patient_id: int, since: dt.datetime) -> set[str]:
    return set(readings_of(patient_id, since=since).values_list("measure", flat=True).distinct())


# --- Alerts, time ------------------------------------------------------------------------------


def open_alerts(patient_id: int) -> QuerySet[Alert]:
    return Alert.objects.filter(patient_id=patient_id, status=AlertStatus.OPEN).select_related(
        "work_item", "last_reading"
    )


def recent_alerts(patient_id: int) -> QuerySet[Alert]:
    return Alert.objects.filter(patient_id=patient_id).select_related("resolved_by", "work_item")


def time_entries_of(patient_id: int, since: dt.datetime | None = None) -> QuerySet[TimeEntry]:
    entries = TimeEntry.objects.filter(patient_id=patient_id).select_related("clinician")
    if since is not None:
        entries = entries.filter(occurred_at__gte=since)
    return entries


def running_timer(clinician: User) -> TimeEntry | None:
    return (
        TimeEntry.objects.filter(
            clinician=clinician, started_at__isnull=False, ended_at__isnull=True
        )
        .select_related("patient")
        .first()
    )


# --- Lists -------------------------------------------------------------------------------------


def patient_zone(patient: User) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(patient.time_zone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


@dataclass
class MonitoredPatient:
    patient: User
    programs: list[str]
    open_alerts: int
    critical: bool
    last_reading_at: dt.datetime | None


def monitored_enrollments(user: User) -> QuerySet[Enrollment]:
    """Enrollments the user may list: staff with a care relationship see their patients;
    coordinators and admins (who run RPM billing) see every enrolled patient."""
    enrollments = Enrollment.objects.filter(ended_at__isnull=True)
    if user.role in (Role.COORDINATOR, Role.ADMIN):
        return enrollments
    if user.role == Role.PATIENT:
        return enrollments.filter(patient=user)
    from carepath.access.selectors import patients_visible_to

    return enrollments.filter(patient_id__in=patients_visible_to(user).values("user_id"))


def monitored_patients(user: User, limit: int = 200) -> list[MonitoredPatient]:
    enrollments = list(
        monitored_enrollments(user).select_related("patient", "program").order_by("patient_id")
    )
    by_patient: dict[int, MonitoredPatient] = {}
    for enrollment in enrollments:
        row = by_patient.get(enrollment.patient_id)
        if row is None:
            if len(by_patient) >= limit:
                continue
            row = by_patient[enrollment.patient_id] = MonitoredPatient(
                enrollment.patient, [], 0, False, None
            )
        label = enrollment.program.name
        if enrollment.started_at is None:
            label += " (waiting for consent)"
        row.programs.append(label)
    ids = list(by_patient)
    for alert in Alert.objects.filter(patient_id__in=ids, status=AlertStatus.OPEN):
        by_patient[alert.patient_id].open_alerts += 1
        by_patient[alert.patient_id].critical |= alert.severity == "critical"
    since = clock.now() - dt.timedelta(days=30)
    latest = (
        Reading.objects.filter(patient_id__in=ids, effective_at__gte=since)
        .values_list("patient_id")
        .order_by()
    )
    for patient_id, last in latest.annotate(last=Max("effective_at")).values_list(
        "patient_id", "last"
    ):
        by_patient[patient_id].last_reading_at = last
    rows = list(by_patient.values())
    rows.sort(key=lambda r: (not r.critical, -r.open_alerts, r.patient.last_name, r.patient.pk))
    return rows


BILLING_OFFICE_ROLES = frozenset({Role.COORDINATOR, Role.ADMIN})


def billing_patients(user: User) -> QuerySet[User]:
    """Patients whose RPM billing the user may read: coordinators and admins (who run
    billing) every patient ever monitored; clinicians the patients they have access to."""
    monitored = User.objects.filter(
        pk__in=Enrollment.objects.filter(started_at__isnull=False).values("patient_id")
    ).order_by("last_name", "first_name", "pk")
    if user.role in BILLING_OFFICE_ROLES:
        return monitored
    if user.role == Role.CLINICIAN:
        from carepath.access.selectors import patients_visible_to

        return monitored.filter(pk__in=patients_visible_to(user).values("user_id"))
    return User.objects.none()


def access_billing_patient(user: User, patient_id: int) -> User:
    from carepath.audit.actions import do_record_audit

    patient = billing_patients(user).filter(pk=patient_id).first()
    if patient is None:
        raise deny(user, "rpm_billing", patient_id, None)
    do_record_audit(
        "rpm.billing.read",
        actor=user,
        object_type="patient",
        object_id=patient.pk,
        patient_id=patient.pk,
    )
    return patient
