"""Calendar invites (.ics, RFC 5545) and the e-mails that carry them. Nothing here names a
service line, a reason or a clinician: "your Carepath visit" and a link to sign in."""

import datetime as dt
from email.utils import parseaddr

import icalendar
from django.conf import settings
from django.core.mail import EmailMessage

from carepath.core import clock
from carepath.scheduling.models import Appointment
from carepath.scheduling.selectors import zone_of

PRODID = "-//Carepath//Scheduling//EN"
SUMMARY = "Carepath visit"


def site_url() -> str:
    return str(getattr(settings, "SITE_URL", "http://127.0.0.1:8000")).rstrip("/")


def appointment_url(appointment: Appointment) -> str:
    return f"{site_url()}/patient/appointments/{appointment.pk}/"


def calendar_uid(appointment: Appointment) -> str:
    """Stable for the appointment and kept across reschedules, so calendars move the event."""
    return f"{appointment.ical_uid}@carepath"


def build_ics(appointment: Appointment, *, method: str = "REQUEST") -> bytes:
    """METHOD:REQUEST (or CANCEL), DTSTART/DTEND with the patient's TZID and a VTIMEZONE,
    SEQUENCE = reminder_version."""
    if method not in {"REQUEST", "CANCEL"}:
        raise ValueError(f"unsupported iTIP method {method!r}")
    zone = zone_of(appointment.patient)
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", method)
    event = icalendar.Event()
    event.add("uid", calendar_uid(appointment))
    event.add("sequence", appointment.reminder_version)
    event.add("dtstamp", clock.now().astimezone(dt.UTC))
    event.add("dtstart", appointment.starts_at.astimezone(zone))
    event.add("dtend", appointment.ends_at.astimezone(zone))
    event.add("summary", SUMMARY)
    event.add("description", f"Sign in to Carepath to join: {appointment_url(appointment)}")
    event.add("location", appointment_url(appointment))
    event.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
    _, organizer = parseaddr(settings.DEFAULT_FROM_EMAIL)
    event.add("organizer", f"mailto:{organizer}", parameters={"cn": "Carepath"})
    event.add(
        "attendee",
        f"mailto:{appointment.patient.email}",
        parameters={"role": "REQ-PARTICIPANT", "partstat": "ACCEPTED", "rsvp": "FALSE"},
    )
    calendar.add_component(event)
    calendar.add_missing_timezones()
    return bytes(calendar.to_ical())


def local_time_text(appointment: Appointment) -> str:
    local = appointment.starts_at.astimezone(zone_of(appointment.patient))
    hour = local.strftime("%I:%M %p").lstrip("0")
    return f"{local:%A, %B} {local.day}, {local.year} at {hour} {local.tzname()}"


MESSAGES = {
    "booked": (
        "Your Carepath visit is booked",
        "Your Carepath visit is booked for {when} ({zone}).",
    ),
    "rescheduled": (
        "Your Carepath visit has moved",
        "Your Carepath visit is now on {when} ({zone}).",
    ),
    "cancelled": (
        "Your Carepath visit is cancelled",
        "Your Carepath visit on {when} ({zone}) is cancelled.",
    ),
    "reminder": (
        "Reminder: your Carepath visit",
        "Reminder: your Carepath visit starts {when} ({zone}).",
    ),
}


def build_email(appointment: Appointment, kind: str) -> EmailMessage:
    subject, first_line = MESSAGES[kind]
    zone = zone_of(appointment.patient)
    body = (
        first_line.format(when=local_time_text(appointment), zone=zone.key)
        + "\n\n"
        + (
            "Sign in to Carepath to see the details"
            + ("." if kind == "cancelled" else f" or join: {appointment_url(appointment)}")
        )
        + "\n\nThis message contains no medical information. In an emergency call 911.\n"
    )
    message = EmailMessage(subject, body, None, [appointment.patient.email])
    method = "CANCEL" if kind == "cancelled" else "REQUEST"
    message.attach(
        "invite.ics", build_ics(appointment, method=method), f"text/calendar; method={method}"
    )
    return message


def sms_text(appointment: Appointment, kind: str) -> str:
    _, first_line = MESSAGES[kind]
    zone = zone_of(appointment.patient)
    return (
        first_line.format(when=local_time_text(appointment), zone=zone.key)
        + " Sign in to Carepath."
    )
