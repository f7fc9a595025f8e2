"""Scheduling e-mail and reminders. Each task carries the appointment id and the
reminder_version it was planned for, and does nothing if the appointment moved on (rescheduled,
cancelled) since; a ReminderSent row (unique per appointment, offset, version) makes a task that
runs twice send once."""

import logging

from django.db import IntegrityError, transaction
from django.tasks import task

from carepath.accounts.models import PatientProfile
from carepath.core import clock
from carepath.scheduling.invites import build_email, sms_text
from carepath.scheduling.models import Appointment, AppointmentStatus, ReminderSent
from carepath.sms.backends import send_sms

logger = logging.getLogger("carepath.scheduling")

EMAIL_KINDS = frozenset({"booked", "rescheduled", "cancelled"})


@task()
def send_appointment_email(appointment_id: int, kind: str, version: int) -> str:
    """The booking / move / cancellation e-mail with its .ics. Skipped when the appointment has
    changed again since (a newer e-mail is on its way)."""
    if kind not in EMAIL_KINDS:
        return "unknown_kind"
    appointment = Appointment.objects.select_related("patient").filter(pk=appointment_id).first()
    if appointment is None:
        return "missing"
    if appointment.reminder_version != version:
        return "stale"
    build_email(appointment, kind).send()
    return "sent"


@task()
def send_appointment_reminder(appointment_id: int, offset_minutes: int, version: int) -> str:
    return deliver_reminder(appointment_id, offset_minutes, version)


def deliver_reminder(appointment_id: int, offset_minutes: int, version: int) -> str:
    """The body of the reminder task (callable directly in tests)."""
    appointment = Appointment.objects.select_related("patient").filter(pk=appointment_id).first()
    if appointment is None:
        return "missing"
    if appointment.status != AppointmentStatus.BOOKED or appointment.reminder_version != version:
        return "stale"
    if clock.now() >= appointment.starts_at:
        return "too_late"
    try:
        with transaction.atomic():
            ReminderSent.objects.create(
                appointment=appointment, offset_minutes=offset_minutes, version=version
            )
            # Sent inside the transaction: if the mail server refuses, the row rolls back and
            # a retry sends it.
            build_email(appointment, "reminder").send()
    except IntegrityError:
        return "duplicate"
    phone = (
        PatientProfile.objects.filter(user_id=appointment.patient_id)
        .values_list("phone", flat=True)
        .first()
    )
    if phone:
        try:
            send_sms(phone, sms_text(appointment, "reminder"))
        except Exception:  # the e-mail went; an SMS failure must not resend it
            logger.exception("sms reminder failed")
    return "sent"
