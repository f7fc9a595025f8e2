"""Scheduling writes: availability, visit types, booking, reschedule, cancel, no-show.

Double booking: every booking transaction first locks the clinician's ClinicianBookingLock row
(SELECT ... FOR UPDATE), then checks the slot against the booked appointments, then inserts. On
SQLite the IMMEDIATE transactions serialize writers anyway; on PostgreSQL the exclusion
constraint `appointment_no_double_booking` is the final word (an IntegrityError becomes the same
409)."""

import datetime as dt
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q

from carepath.access.models import CareRelationship, RelationshipKind
from carepath.access.selectors import may_access_patient
from carepath.accounts.models import Role, User
from carepath.audit.actions import do_record_audit
from carepath.audit.models import Outcome
from carepath.care.actions import do_end_encounter, do_link_escalation, do_settle_escalation
from carepath.care.actions import do_start_encounter as do_start_care_encounter
from carepath.care.events import emit_episode_event
from carepath.care.models import EncounterStatus, EscalationStatus
from carepath.consent.selectors import check_care_consent
from carepath.core import clock
from carepath.core.errors import ActionRefused
from carepath.core.us_states import UsState
from carepath.scheduling.models import (
    Appointment,
    AppointmentStatus,
    AvailabilityException,
    ClinicianBookingLock,
    ExceptionKind,
    VisitMode,
    VisitType,
    WeeklyAvailability,
)
from carepath.scheduling.selectors import (
    EscalationBooking,
    clinician_has_specialty,
    escalation_booking,
    is_slot_available,
    patient_state_of,
)
from carepath.scheduling.tasks import send_appointment_email, send_appointment_reminder

logger = logging.getLogger("carepath.scheduling")

# How long after the visit the clinician keeps access to the patient's record (notes, orders).
CARE_ACCESS_AFTER_VISIT = dt.timedelta(days=30)
BOOKING_STAFF_ROLES = frozenset({Role.CLINICIAN, Role.COORDINATOR, Role.ADMIN})


def cancel_cutoff() -> dt.timedelta:
    return dt.timedelta(hours=float(getattr(settings, "CANCEL_CUTOFF_HOURS", 2)))


def reminder_offsets() -> list[int]:
    return [int(minutes) for minutes in getattr(settings, "REMINDER_OFFSETS_MINUTES", [1440, 60])]


# --- Reminders ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedReminder:
    appointment_id: int
    offset_minutes: int
    version: int
    run_after: dt.datetime


def plan_reminders(appointment: Appointment) -> list[PlannedReminder]:
    """One reminder per configured offset before the start, skipping those already past."""
    now = clock.now()
    plan = []
    for offset in sorted(set(reminder_offsets()), reverse=True):
        run_after = appointment.starts_at - dt.timedelta(minutes=offset)
        if run_after > now:
            plan.append(
                PlannedReminder(appointment.pk, offset, appointment.reminder_version, run_after)
            )
    return plan


def enqueue_reminder(reminder: PlannedReminder) -> None:
    """The enqueue seam. Backends that cannot defer (the test suite's ImmediateBackend) would
    refuse run_after (or run at once and send a day early), so reminders are skipped there."""
    if not send_appointment_reminder.get_backend().supports_defer:
        logger.info("task backend cannot defer; reminder not enqueued")
        return
    send_appointment_reminder.using(run_after=reminder.run_after).enqueue(
        reminder.appointment_id, reminder.offset_minutes, reminder.version
    )


def schedule_reminders(appointment: Appointment) -> list[PlannedReminder]:
    """Plan the appointment's reminders and enqueue them when the transaction commits; returns
    the plan (appointment id, offset, version, run_after)."""
    plan = plan_reminders(appointment)
    for reminder in plan:
        transaction.on_commit(partial(enqueue_reminder, reminder))
    return plan


def _send_email_on_commit(appointment: Appointment, kind: str) -> None:
    transaction.on_commit(
        partial(send_appointment_email.enqueue, appointment.pk, kind, appointment.reminder_version)
    )


# --- Availability and visit types ---------------------------------------------------------


def _check_clinician(actor: User) -> None:
    if actor.role != Role.CLINICIAN:
        do_record_audit("availability.write", actor=actor, outcome=Outcome.DENIED)
        raise ActionRefused("forbidden", "Only clinicians manage their own hours.", status=403)


def do_add_weekly_hours(
    clinician: User,
    *,
    weekday: int,
    start_time: dt.time,
    end_time: dt.time,
    valid_from: dt.date | None = None,
    valid_until: dt.date | None = None,
) -> WeeklyAvailability:
    _check_clinician(clinician)
    if not 0 <= weekday <= 6:
        raise ActionRefused("invalid_weekday", "Choose a day of the week.", field="weekday")
    if end_time <= start_time:
        raise ActionRefused(
            "invalid_hours", "The end must be after the start (same day).", field="end_time"
        )
    valid_from = valid_from or clock.now().astimezone(_zone(clinician)).date()
    if valid_until is not None and valid_until < valid_from:
        raise ActionRefused(
            "invalid_range", "“Until” must not be before “from”.", field="valid_until"
        )
    with transaction.atomic():
        ClinicianBookingLock.objects.get_or_create(clinician=clinician)
        rule = WeeklyAvailability.objects.create(
            clinician=clinician,
            weekday=weekday,
            start_time=start_time,
            end_time=end_time,
            valid_from=valid_from,
            valid_until=valid_until,
        )
        do_record_audit(
            "availability.weekly.add",
            actor=clinician,
            object_type="weekly_availability",
            object_id=rule.pk,
            detail={"weekday": weekday, "start": str(start_time), "end": str(end_time)},
        )
    return rule


def _zone(user: User) -> dt.tzinfo:
    from carepath.scheduling.selectors import zone_of

    return zone_of(user)


def do_remove_weekly_hours(clinician: User, rule_id: int) -> None:
    """Ends a rule (yesterday, in the clinician's zone) so past hours keep their history; a rule
    that has not started yet is simply removed."""
    _check_clinician(clinician)
    with transaction.atomic():
        rule = (
            WeeklyAvailability.objects.select_for_update()
            .filter(pk=rule_id, clinician=clinician)
            .first()
        )
        if rule is None:
            raise ActionRefused("not_found", "No such hours.", status=404)
        today = clock.now().astimezone(_zone(clinician)).date()
        if rule.valid_from >= today:
            rule.delete()
        else:
            rule.valid_until = today - dt.timedelta(days=1)
            rule.save(update_fields=["valid_until"])
        do_record_audit(
            "availability.weekly.remove",
            actor=clinician,
            object_type="weekly_availability",
            object_id=rule_id,
        )


def do_add_exception(
    clinician: User,
    *,
    kind: str,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    reason: str = "",
) -> AvailabilityException:
    _check_clinician(clinician)
    if kind not in ExceptionKind.values:
        raise ActionRefused("invalid_kind", "Choose time off or extra hours.", field="kind")
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise ActionRefused("naive_time", "Times need a time zone.", field="starts_at")
    if ends_at <= starts_at:
        raise ActionRefused("invalid_range", "The end must be after the start.", field="ends_at")
    if ends_at - starts_at > dt.timedelta(days=90):
        raise ActionRefused("too_long", "An exception lasts at most 90 days.", field="ends_at")
    with transaction.atomic():
        ClinicianBookingLock.objects.get_or_create(clinician=clinician)
        exception = AvailabilityException.objects.create(
            clinician=clinician,
            kind=kind,
            starts_at=starts_at.astimezone(dt.UTC),
            ends_at=ends_at.astimezone(dt.UTC),
            reason=reason.strip()[:200],
        )
        do_record_audit(
            "availability.exception.add",
            actor=clinician,
            object_type="availability_exception",
            object_id=exception.pk,
            detail={"kind": kind},
        )
    return exception


def do_remove_exception(clinician: User, exception_id: int) -> None:
    _check_clinician(clinician)
    with transaction.atomic():
        deleted, _ = AvailabilityException.objects.filter(
            pk=exception_id, clinician=clinician
        ).delete()
        if not deleted:
            raise ActionRefused("not_found", "No such exception.", status=404)
        do_record_audit(
            "availability.exception.remove",
            actor=clinician,
            object_type="availability_exception",
            object_id=exception_id,
        )


def do_save_visit_type(
    clinician: User,
    *,
    name: str,
    duration_minutes: int,
    mode: str,
    buffer_minutes: int = 0,
    service_line_code: str | None = None,
    requires_intake: bool = False,
    active: bool = True,
    visit_type_id: int | None = None,
) -> VisitType:
    """Create (or update one of the clinician's own) visit type."""
    _check_clinician(clinician)
    name = name.strip()
    if not name:
        raise ActionRefused("name_required", "Give the visit type a name.", field="name")
    if not 5 <= duration_minutes <= 480:
        raise ActionRefused(
            "invalid_duration", "A visit lasts 5 to 480 minutes.", field="duration_minutes"
        )
    if not 0 <= buffer_minutes <= 240:
        raise ActionRefused(
            "invalid_buffer", "The buffer is 0 to 240 minutes.", field="buffer_minutes"
        )
    if mode not in VisitMode.values:
        raise ActionRefused("invalid_mode", "Choose video, audio or chat.", field="mode")
    service_line = None
    if service_line_code:
        from carepath.intake.models import ServiceLine

        service_line = ServiceLine.objects.filter(code=service_line_code, active=True).first()
        if service_line is None:
            raise ActionRefused(
                "unknown_service_line", "No service line with that code.", field="service_line"
            )
    with transaction.atomic():
        if visit_type_id is not None:
            visit_type = (
                VisitType.objects.select_for_update()
                .filter(pk=visit_type_id, clinician=clinician)
                .first()
            )
            if visit_type is None:
                raise ActionRefused("not_found", "No such visit type.", status=404)
        else:
            visit_type = VisitType(clinician=clinician)
        visit_type.name = name[:100]
        visit_type.duration_minutes = duration_minutes
        visit_type.mode = mode
        visit_type.buffer_minutes = buffer_minutes
        visit_type.service_line = service_line
        visit_type.requires_intake = requires_intake
        visit_type.active = active
        visit_type.save()
        do_record_audit(
            "visit_type.save",
            actor=clinician,
            object_type="visit_type",
            object_id=visit_type.pk,
            detail={"created": visit_type_id is None},
        )
    return visit_type


# --- Booking ------------------------------------------------------------------------------


def _lock_clinicians(*clinician_ids: int) -> None:
    """Take the booking locks in id order (no deadlock between two reschedules)."""
    for clinician_id in sorted(set(clinician_ids)):
        ClinicianBookingLock.objects.get_or_create(clinician_id=clinician_id)
        ClinicianBookingLock.objects.select_for_update().get(clinician_id=clinician_id)


def _slot_refused() -> ActionRefused:
    return ActionRefused(
        "slot_unavailable",
        "That time is no longer available. Please choose another.",
        field="starts_at",
        status=409,
    )


def _check_actor_may_book_for(actor: User, patient: User) -> None:
    if actor.pk == patient.pk and actor.role == Role.PATIENT:
        return
    if actor.role in BOOKING_STAFF_ROLES and may_access_patient(actor, patient.pk):
        return
    do_record_audit(
        "appointment.book",
        actor=actor,
        object_type="patient",
        object_id=patient.pk,
        patient_id=patient.pk if patient.role == Role.PATIENT else None,
        outcome=Outcome.DENIED,
    )
    raise ActionRefused("not_found", "No patient with that id.", status=404)


def _check_bookable(
    *,
    patient: User,
    clinician: User,
    visit_type: VisitType,
    starts_at: dt.datetime,
    state: str,
    ignore: Appointment | None = None,
) -> None:
    """Inside the locked transaction: the slot must be offered and free, and the patient must
    not be in another visit then."""
    if not is_slot_available(
        patient=patient,
        clinician=clinician,
        visit_type=visit_type,
        starts_at=starts_at,
        state=state,
    ):
        raise _slot_refused()
    ends_at = starts_at + dt.timedelta(minutes=visit_type.duration_minutes)
    clash = Appointment.objects.filter(
        patient=patient,
        status=AppointmentStatus.BOOKED,
        starts_at__lt=ends_at,
        ends_at__gt=starts_at,
    )
    if ignore is not None:
        clash = clash.exclude(pk=ignore.pk)
    if clash.exists():
        raise ActionRefused(
            "patient_busy",
            "You already have a visit at that time.",
            field="starts_at",
            status=409,
        )


def _check_state(state: str) -> str:
    if state not in UsState.values:
        raise ActionRefused(
            "state_required",
            "Tell us which state you will be in during the visit.",
            field="patient_state",
        )
    return state


def _insert_appointment(**fields: object) -> Appointment:
    try:
        with transaction.atomic():
            return Appointment.objects.create(**fields)
    except IntegrityError as error:
        # PostgreSQL's exclusion constraint: another transaction booked the time first.
        if "appointment_no_double_booking" in str(error):
            raise _slot_refused() from error
        raise


def _grant_care_access(appointment: Appointment, actor: User) -> None:
    CareRelationship.objects.create(
        staff_id=appointment.clinician_id,
        patient_id=appointment.patient_id,
        kind=RelationshipKind.APPOINTMENT,
        source_id=str(appointment.pk),
        ends_at=appointment.ends_at + CARE_ACCESS_AFTER_VISIT,
    )


def _end_care_access(appointment: Appointment) -> None:
    CareRelationship.objects.filter(
        kind=RelationshipKind.APPOINTMENT, source_id=str(appointment.pk)
    ).filter(Q(ends_at__isnull=True) | Q(ends_at__gt=clock.now())).update(ends_at=clock.now())


def _matching_intake_case(patient: User, visit_type: VisitType) -> object | None:
    """The patient's latest intake case for the visit type's service line, if any."""
    if not visit_type.requires_intake or visit_type.service_line_id is None:
        return None
    from carepath.scheduling.selectors import latest_intake_case

    return latest_intake_case(patient, visit_type.service_line_id)


def do_book(
    actor: User,
    *,
    patient: User,
    clinician: User,
    visit_type: VisitType,
    starts_at: dt.datetime,
    patient_state: str = "",
    episode_id: int | None = None,
    escalation_id: int | None = None,
) -> Appointment:
    """Book one slot. Refusals: 404 (may not book for this patient), 403 (consent), 400 (input),
    409 (the slot was taken or is not offered). With `escalation_id` the visit continues a
    patient's async case live: it lands in the case's episode, its encounter (planned until
    the visit starts) escalated from the case's, and the escalation request points at it."""
    _check_actor_may_book_for(actor, patient)
    if patient.role != Role.PATIENT:
        raise ActionRefused("not_a_patient", "Only patients can be booked.", field="patient")
    check_care_consent(patient)
    escalation = _escalation_to_book(patient, clinician, escalation_id)
    if escalation is not None:
        episode_id = escalation.escalation.encounter.episode_id
    if starts_at.tzinfo is None:
        raise ActionRefused("naive_time", "The start needs a time zone.", field="starts_at")
    starts_at = starts_at.astimezone(dt.UTC)
    state = _check_state(patient_state or patient_state_of(patient))
    if not visit_type.active or (
        visit_type.clinician_id is not None and visit_type.clinician_id != clinician.pk
    ):
        raise ActionRefused(
            "visit_type_unavailable", "That visit type is not offered.", field="visit_type"
        )
    with transaction.atomic():
        _lock_clinicians(clinician.pk)
        _check_bookable(
            patient=patient,
            clinician=clinician,
            visit_type=visit_type,
            starts_at=starts_at,
            state=state,
        )
        ends_at = starts_at + dt.timedelta(minutes=visit_type.duration_minutes)
        appointment = _insert_appointment(
            patient=patient,
            clinician=clinician,
            visit_type=visit_type,
            starts_at=starts_at,
            ends_at=ends_at,
            blocks_until=ends_at + dt.timedelta(minutes=visit_type.buffer_minutes),
            patient_state=state,
            booked_at=clock.now(),
            booked_by=actor,
            ical_uid=uuid.uuid4().hex,
            episode_id=episode_id,
            intake_case=escalation.case
            if escalation is not None
            else _matching_intake_case(patient, visit_type),
        )
        _grant_care_access(appointment, actor)
        if escalation is not None:
            _attach_escalation(appointment, escalation, actor)
        do_record_audit(
            "appointment.book",
            actor=actor,
            object_type="appointment",
            object_id=appointment.pk,
            patient_id=patient.pk,
            detail={"clinician_id": clinician.pk, "starts_at": starts_at.isoformat()},
        )
        _send_email_on_commit(appointment, "booked")
        schedule_reminders(appointment)
    return appointment


def _escalation_to_book(
    patient: User, clinician: User, escalation_id: int | None
) -> EscalationBooking | None:
    if escalation_id is None:
        return None
    booking = escalation_booking(patient, escalation_id)
    if booking is None:
        raise ActionRefused(
            "unknown_escalation",
            "This live visit cannot be booked: it was booked already, or is no longer needed.",
            field="escalation_id",
            status=409,
        )
    if not clinician_has_specialty(clinician, booking.service_line.specialty_id):
        raise ActionRefused(
            "wrong_specialty",
            f"Choose a clinician who offers {booking.service_line.name}.",
            field="clinician_id",
        )
    return booking


def _attach_escalation(appointment: Appointment, booking: EscalationBooking, actor: User) -> None:
    """Inside the booking transaction: the live encounter of the escalation, planned in the
    case's episode, owned by the appointment."""
    escalation = booking.escalation
    encounter = do_start_care_encounter(
        escalation.encounter.episode,
        appointment.visit_type.mode,
        by=actor,
        clinician=appointment.clinician,
        escalated_from=escalation.encounter,
    )
    appointment.encounter = encounter
    appointment.save(update_fields=["encounter"])
    do_link_escalation(escalation, encounter, by=actor)
    emit_episode_event(
        encounter.episode_id,
        "visit.scheduled",
        actor_id=actor.pk,
        appointment_id=appointment.pk,
        encounter_id=encounter.pk,
        mode=appointment.visit_type.mode,
        kind="scheduled",
        starts_at=appointment.starts_at.isoformat(),
        escalated_from=escalation.encounter_id,
    )


def _release_escalation(appointment: Appointment, actor: User) -> None:
    """A cancelled escalation booking: its planned live encounter is cancelled and the
    escalation waits for a booking again (the patient can choose another time)."""
    encounter = appointment.encounter
    if (
        encounter is None
        or encounter.escalated_from_id is None
        or encounter.status != EncounterStatus.PLANNED
    ):
        return
    do_end_encounter(encounter, by=actor, status=EncounterStatus.CANCELLED)
    do_settle_escalation(encounter, by=actor, status=EscalationStatus.REQUESTED)


def _is_staff_over(actor: User, appointment: Appointment) -> bool:
    if actor.role == Role.CLINICIAN:
        return bool(appointment.clinician_id == actor.pk)
    return actor.role in {Role.COORDINATOR, Role.ADMIN} and may_access_patient(
        actor, appointment.patient_id
    )


def _change_refusal(actor: User, appointment: Appointment) -> ActionRefused | None:
    """Patients change their own visits until the cutoff; the clinician and coordinators
    (with a care relationship) any time before the visit ends."""
    if actor.role == Role.PATIENT and actor.pk == appointment.patient_id:
        if appointment.status != AppointmentStatus.BOOKED:
            return ActionRefused("not_booked", "This visit is no longer booked.", status=409)
        if clock.now() > appointment.starts_at - cancel_cutoff():
            hours = cancel_cutoff().total_seconds() / 3600
            return ActionRefused(
                "cutoff_passed",
                f"Visits can be changed online until {hours:g} hours before they start. "
                "Please contact the clinic.",
                status=409,
            )
        return None
    if _is_staff_over(actor, appointment):
        if appointment.status != AppointmentStatus.BOOKED:
            return ActionRefused("not_booked", "This visit is no longer booked.", status=409)
        if clock.now() >= appointment.ends_at:
            return ActionRefused("visit_over", "This visit is already over.", status=409)
        return None
    return ActionRefused("not_found", "No appointment with that id.", status=404)


@contextmanager
def _audit_refusal(action: str, actor: User, appointment: Appointment) -> Iterator[None]:
    """Wrap the transaction: a refusal rolls the transaction back, then is audited."""
    try:
        yield
    except ActionRefused as refused:
        do_record_audit(
            action,
            actor=actor,
            object_type="appointment",
            object_id=appointment.pk,
            patient_id=appointment.patient_id,
            outcome=Outcome.DENIED,
            detail={"code": refused.code},
        )
        raise


def do_cancel(actor: User, appointment: Appointment, *, reason: str = "") -> Appointment:
    with _audit_refusal("appointment.cancel", actor, appointment), transaction.atomic():
        appointment = (
            Appointment.objects.select_for_update().select_related("patient").get(pk=appointment.pk)
        )
        refused = _change_refusal(actor, appointment)
        if refused is not None:
            raise refused
        appointment.status = AppointmentStatus.CANCELLED
        appointment.cancelled_at = clock.now()
        appointment.cancel_reason = reason.strip()[:200]
        appointment.reminder_version += 1
        appointment.save(
            update_fields=["status", "cancelled_at", "cancel_reason", "reminder_version"]
        )
        _end_care_access(appointment)
        _release_escalation(appointment, actor)
        do_record_audit(
            "appointment.cancel",
            actor=actor,
            object_type="appointment",
            object_id=appointment.pk,
            patient_id=appointment.patient_id,
            detail={"by": "patient" if actor.role == Role.PATIENT else "staff"},
        )
        _send_email_on_commit(appointment, "cancelled")
    return appointment


def do_reschedule(
    actor: User,
    appointment: Appointment,
    *,
    starts_at: dt.datetime,
    clinician: User | None = None,
    visit_type: VisitType | None = None,
    patient_state: str = "",
) -> Appointment:
    """A new appointment replaces the old one (marked rescheduled, reminder_version bumped so
    its reminders do nothing). The new one keeps the calendar UID with a higher SEQUENCE."""
    if starts_at.tzinfo is None:
        raise ActionRefused("naive_time", "The start needs a time zone.", field="starts_at")
    starts_at = starts_at.astimezone(dt.UTC)
    with _audit_refusal("appointment.reschedule", actor, appointment), transaction.atomic():
        old = (
            Appointment.objects.select_related("patient", "clinician", "visit_type")
            .filter(pk=appointment.pk)
            .get()
        )
        new_clinician = clinician or old.clinician
        new_type = visit_type or old.visit_type
        _lock_clinicians(old.clinician_id, new_clinician.pk)
        old = Appointment.objects.select_for_update().select_related("patient").get(pk=old.pk)
        refused = _change_refusal(actor, old)
        if refused is not None:
            raise refused
        if not new_type.active or (
            new_type.clinician_id is not None and new_type.clinician_id != new_clinician.pk
        ):
            raise ActionRefused(
                "visit_type_unavailable", "That visit type is not offered.", field="visit_type"
            )
        state = _check_state(patient_state or old.patient_state)
        old.status = AppointmentStatus.RESCHEDULED
        old.reminder_version += 1
        old.save(update_fields=["status", "reminder_version"])
        _check_bookable(
            patient=old.patient,
            clinician=new_clinician,
            visit_type=new_type,
            starts_at=starts_at,
            state=state,
            ignore=old,
        )
        ends_at = starts_at + dt.timedelta(minutes=new_type.duration_minutes)
        new = _insert_appointment(
            patient=old.patient,
            clinician=new_clinician,
            visit_type=new_type,
            starts_at=starts_at,
            ends_at=ends_at,
            blocks_until=ends_at + dt.timedelta(minutes=new_type.buffer_minutes),
            patient_state=state,
            booked_at=clock.now(),
            booked_by=actor,
            rescheduled_from=old,
            reminder_version=old.reminder_version,
            ical_uid=old.ical_uid,
            episode_id=old.episode_id,
            # An escalation's planned live encounter moves with the booking.
            encounter_id=old.encounter_id,
            intake_case_id=old.intake_case_id,
        )
        _end_care_access(old)
        _grant_care_access(new, actor)
        do_record_audit(
            "appointment.reschedule",
            actor=actor,
            object_type="appointment",
            object_id=new.pk,
            patient_id=new.patient_id,
            detail={"from": old.pk, "starts_at": starts_at.isoformat()},
        )
        _send_email_on_commit(new, "rescheduled")
        schedule_reminders(new)
    return new


def do_mark_no_show(actor: User, appointment: Appointment) -> Appointment:
    with _audit_refusal("appointment.no_show", actor, appointment), transaction.atomic():
        appointment = Appointment.objects.select_for_update().get(pk=appointment.pk)
        refused: ActionRefused | None = None
        if actor.role != Role.CLINICIAN or appointment.clinician_id != actor.pk:
            refused = ActionRefused(
                "forbidden", "Only the visit's clinician marks a no-show.", status=403
            )
        elif appointment.status != AppointmentStatus.BOOKED:
            refused = ActionRefused("not_booked", "This visit is no longer booked.", status=409)
        elif clock.now() < appointment.starts_at:
            refused = ActionRefused(
                "not_started", "A no-show can be marked only after the start time.", status=409
            )
        if refused is not None:
            raise refused
        appointment.status = AppointmentStatus.NO_SHOW
        appointment.no_show_at = clock.now()
        appointment.reminder_version += 1
        appointment.save(update_fields=["status", "no_show_at", "reminder_version"])
        do_record_audit(
            "appointment.no_show",
            actor=actor,
            object_type="appointment",
            object_id=appointment.pk,
            patient_id=appointment.patient_id,
        )
    return appointment


def do_complete_appointment(
    appointment: Appointment, *, actor: User | None = None, encounter_id: int | None = None
) -> Appointment:
    """For the visit: the appointment is completed when its encounter ends (idempotent)."""
    with transaction.atomic():
        appointment = Appointment.objects.select_for_update().get(pk=appointment.pk)
        if appointment.status == AppointmentStatus.COMPLETED:
            return appointment
        if appointment.status != AppointmentStatus.BOOKED:
            raise ActionRefused("not_booked", "This visit is no longer booked.", status=409)
        appointment.status = AppointmentStatus.COMPLETED
        appointment.completed_at = clock.now()
        fields = ["status", "completed_at"]
        if encounter_id is not None:
            appointment.encounter_id = encounter_id
            fields.append("encounter")
        appointment.save(update_fields=fields)
        do_record_audit(
            "appointment.complete",
            actor=actor,
            object_type="appointment",
            object_id=appointment.pk,
            patient_id=appointment.patient_id,
        )
    return appointment


def do_link_encounter(appointment: Appointment, *, encounter_id: int, episode_id: int) -> None:
    """For the visit engineer: attach the visit's encounter (and its episode)."""
    with transaction.atomic():
        Appointment.objects.filter(pk=appointment.pk).update(
            encounter_id=encounter_id, episode_id=episode_id
        )
        do_record_audit(
            "appointment.link_encounter",
            object_type="appointment",
            object_id=appointment.pk,
            patient_id=appointment.patient_id,
            detail={"encounter_id": encounter_id},
        )


def do_attach_intake(actor: User, appointment: Appointment, intake_case_id: int) -> Appointment:
    """The patient's intake for a visit that requires one (after the booking)."""
    from carepath.intake.models import Case as IntakeCase

    with transaction.atomic():
        appointment = Appointment.objects.select_for_update().get(pk=appointment.pk)
        if actor.pk != appointment.patient_id:
            raise ActionRefused("not_found", "No appointment with that id.", status=404)
        case = IntakeCase.objects.filter(pk=intake_case_id, patient_id=actor.pk).first()
        if case is None:
            raise ActionRefused("not_found", "No intake with that id.", status=404)
        appointment.intake_case = case
        appointment.save(update_fields=["intake_case"])
        do_record_audit(
            "appointment.attach_intake",
            actor=actor,
            object_type="appointment",
            object_id=appointment.pk,
            patient_id=appointment.patient_id,
            detail={"intake_case_id": intake_case_id},
        )
    return appointment
