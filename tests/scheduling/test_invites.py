"""Booking e-mails carry an .ics invite in the patient's zone; nothing in them is health
information; they really leave through SMTP; SMS goes through the adapter's outbox."""

import datetime as dt
import socket
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from typing import Any

import icalendar
import pytest
from aiosmtpd.controller import Controller
from django.core import mail
from django.test import override_settings

from carepath.accounts.models import User
from carepath.intake.models import ServiceLine
from carepath.scheduling.actions import do_book, do_cancel, do_reschedule
from carepath.scheduling.invites import build_ics
from carepath.scheduling.models import Appointment, VisitType
from carepath.sms.backends import OutboxSmsSender, SmsSender, get_sms_sender, send_sms
from carepath.sms.models import SmsOutbox
from tests.scheduling.conftest import CHICAGO

NINE = dt.datetime(2026, 10, 19, 9, tzinfo=CHICAGO)


def book(alice: User, dr_tex: User, visit_type: VisitType) -> Appointment:
    return do_book(alice, patient=alice, clinician=dr_tex, visit_type=visit_type, starts_at=NINE)


def ics_text(message: Any) -> str:
    content = message.attachments[0].content
    return content.decode() if isinstance(content, bytes) else str(content)


def event_of(ics: bytes | str) -> tuple[icalendar.Calendar, icalendar.Event]:
    calendar = icalendar.Calendar.from_ical(ics)
    event = calendar.walk("VEVENT")[0]
    assert isinstance(event, icalendar.Event)
    return calendar, event


def test_ics_has_the_patients_zone_a_stable_uid_and_a_sequence(
    alice: User, dr_tex: User, tex_hours: VisitType, october: dt.datetime
) -> None:
    appointment = book(alice, dr_tex, tex_hours)
    ics = build_ics(appointment)
    calendar, event = event_of(ics)
    assert calendar["METHOD"] == "REQUEST"
    assert b"DTSTART;TZID=America/Chicago:20261019T090000" in ics
    assert b"DTEND;TZID=America/Chicago:20261019T093000" in ics
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["America/Chicago"]
    assert event.decoded("DTSTART") == NINE
    assert event.decoded("DTSTART").astimezone(dt.UTC) == appointment.starts_at
    assert event["UID"] == f"{appointment.ical_uid}@carepath"
    assert event["SEQUENCE"] == 1
    assert event["SUMMARY"] == "Carepath visit"
    assert "alice@example.com" in str(event["ATTENDEE"])
    # A patient in another zone gets their own zone in the invite.
    alice.time_zone = "America/Los_Angeles"
    alice.save(update_fields=["time_zone"])
    appointment.patient.refresh_from_db()
    assert b"DTSTART;TZID=America/Los_Angeles:20261019T070000" in build_ics(appointment)


def test_reschedule_keeps_the_uid_with_a_higher_sequence_and_cancel_sends_cancel(
    alice: User,
    dr_tex: User,
    tex_hours: VisitType,
    october: dt.datetime,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        appointment = book(alice, dr_tex, tex_hours)
    with django_capture_on_commit_callbacks(execute=True):
        moved = do_reschedule(alice, appointment, starts_at=NINE + dt.timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        do_cancel(alice, moved)
    subjects = [message.subject for message in mail.outbox]
    assert subjects == [
        "Your Carepath visit is booked",
        "Your Carepath visit has moved",
        "Your Carepath visit is cancelled",
    ]
    invites = [event_of(ics_text(message)) for message in mail.outbox]
    assert [calendar["METHOD"] for calendar, _ in invites] == ["REQUEST", "REQUEST", "CANCEL"]
    assert len({str(event["UID"]) for _, event in invites}) == 1
    assert [event["SEQUENCE"] for _, event in invites] == [1, 2, 3]
    assert invites[2][1]["STATUS"] == "CANCELLED"
    assert [m.attachments[0].mimetype for m in mail.outbox] == [
        "text/calendar; method=REQUEST",
        "text/calendar; method=REQUEST",
        "text/calendar; method=CANCEL",
    ]


def test_emails_carry_no_health_information(
    alice: User,
    dr_tex: User,
    derm: ServiceLine,
    tex_hours: VisitType,
    october: dt.datetime,
    django_capture_on_commit_callbacks: Any,
) -> None:
    tex_hours.name = "Dermatology rash follow-up"
    tex_hours.save()
    with django_capture_on_commit_callbacks(execute=True):
        book(alice, dr_tex, tex_hours)
    (message,) = mail.outbox
    text = f"{message.subject}\n{message.body}\n{ics_text(message)}".lower()
    for secret in ("dermatology", "rash", derm.name.lower(), "tex"):
        assert secret not in text
    assert "your carepath visit" in text
    assert "9:00 am cdt" in text
    assert "america/chicago" in text


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def test_booking_email_with_invite_arrives_over_real_smtp(
    alice: User,
    dr_tex: User,
    tex_hours: VisitType,
    october: dt.datetime,
    smtp_server: tuple[Inbox, int],
    django_capture_on_commit_callbacks: Any,
) -> None:
    inbox, port = smtp_server
    smtp = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": port, "use_tls": False, "timeout": 5},
        }
    }
    with override_settings(MAILERS=smtp), django_capture_on_commit_callbacks(execute=True):
        appointment = book(alice, dr_tex, tex_hours)
    assert len(inbox.messages) == 1
    message = inbox.messages[0]
    assert message["To"] == "alice@example.com"
    assert message["Subject"] == "Your Carepath visit is booked"
    parts = {part.get_content_type(): part for part in message.walk()}
    invite = parts["text/calendar"]
    assert invite.get_param("method") == "REQUEST"
    assert invite.get_filename() == "invite.ics"
    payload = invite.get_payload(decode=True)
    assert isinstance(payload, bytes)
    _calendar, event = event_of(payload)
    assert event["UID"] == f"{appointment.ical_uid}@carepath"
    assert event.decoded("DTSTART") == NINE


class RecordingSender:
    sent: list[tuple[str, str]] = []

    def send(self, to: str, body: str) -> str:
        self.sent.append((to, body))
        return f"rec-{len(self.sent)}"


def test_sms_adapter_outbox_by_default_and_selectable(db: None, settings: Any) -> None:
    assert isinstance(get_sms_sender(), OutboxSmsSender)
    assert isinstance(get_sms_sender(), SmsSender)
    message_id = send_sms("+15125550100", "Your Carepath visit starts soon.")
    assert message_id == f"outbox-{SmsOutbox.objects.get().pk}"
    settings.SMS_BACKEND = "tests.scheduling.test_invites.RecordingSender"
    assert send_sms("+15125550101", "hello") == "rec-1"
    assert RecordingSender.sent == [("+15125550101", "hello")]
    assert SmsOutbox.objects.count() == 1
