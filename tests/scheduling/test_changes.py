"""Cancel (cutoff), reschedule, no-show, and the reminders that follow each appointment."""

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail
from django.tasks import TaskResult
from django.test import Client

from carepath.accounts.models import PatientProfile, User
from carepath.audit.models import AuditEvent, Outcome
from carepath.core import clock
from carepath.core.errors import ActionRefused
from carepath.scheduling.actions import do_book, do_cancel, do_reschedule, plan_reminders
from carepath.scheduling.models import Appointment, AppointmentStatus, ReminderSent, VisitType
from carepath.scheduling.tasks import deliver_reminder, send_appointment_reminder
from carepath.sms.models import SmsOutbox
from tests.scheduling.conftest import CHICAGO

NINE = dt.datetime(2026, 10, 19, 9, tzinfo=CHICAGO)


def booked(alice: User, dr_tex: User, visit_type: VisitType, at: dt.datetime = NINE) -> Appointment:
    return do_book(alice, patient=alice, clinician=dr_tex, visit_type=visit_type, starts_at=at)


def reminders_in(results: list[TaskResult[Any, Any]]) -> list[tuple[Any, ...]]:
    return [
        (*result.args, result.task.run_after)
        for result in results
        if result.task.func is send_appointment_reminder.func
    ]


def test_reminders_are_enqueued_at_the_configured_offsets(
    alice: User,
    dr_tex: User,
    tex_hours: VisitType,
    october: dt.datetime,
    deferred_tasks: list[TaskResult[Any, Any]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        appointment = booked(alice, dr_tex, tex_hours)
    start = NINE.astimezone(dt.UTC)
    assert reminders_in(deferred_tasks) == [
        (appointment.pk, 1440, 1, start - dt.timedelta(hours=24)),
        (appointment.pk, 60, 1, start - dt.timedelta(hours=1)),
    ]
    # The booking e-mail itself is enqueued at once (no run_after).
    emails = [r for r in deferred_tasks if r.task.func is not send_appointment_reminder.func]
    assert [(list(r.args), r.task.run_after) for r in emails] == [
        ([appointment.pk, "booked", 1], None)
    ]


def test_offsets_come_from_settings_and_past_ones_are_skipped(
    alice: User,
    dr_tex: User,
    tex_hours: VisitType,
    settings: Any,
    deferred_tasks: list[TaskResult[Any, Any]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.REMINDER_OFFSETS_MINUTES = [2880, 1440, 30]
    clock.freeze(NINE - dt.timedelta(hours=30))  # the 48 h reminder is already past
    with django_capture_on_commit_callbacks(execute=True):
        appointment = booked(alice, dr_tex, tex_hours)
    assert [offset for _, offset, _, _ in reminders_in(deferred_tasks)] == [1440, 30]
    assert [r.offset_minutes for r in plan_reminders(appointment)] == [1440, 30]


def test_the_suites_immediate_backend_sends_no_early_reminder(
    alice: User,
    dr_tex: User,
    tex_hours: VisitType,
    october: dt.datetime,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """ImmediateBackend refuses run_after: reminders are skipped, the booking mail still goes."""
    with django_capture_on_commit_callbacks(execute=True):
        booked(alice, dr_tex, tex_hours)
    assert [message.subject for message in mail.outbox] == ["Your Carepath visit is booked"]
    assert not ReminderSent.objects.exists()


def test_reminder_task_sends_once(
    alice: User, dr_tex: User, tex_hours: VisitType, october: dt.datetime
) -> None:
    PatientProfile.objects.filter(user=alice).update(phone="+15125550100")
    appointment = booked(alice, dr_tex, tex_hours)
    mail.outbox.clear()
    clock.freeze(NINE - dt.timedelta(hours=1))
    assert deliver_reminder(appointment.pk, 60, 1) == "sent"
    assert deliver_reminder(appointment.pk, 60, 1) == "duplicate"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject == "Reminder: your Carepath visit"
    assert "9:00 AM CDT" in mail.outbox[0].body
    sms = SmsOutbox.objects.get()
    assert sms.to == "+15125550100"
    assert "Carepath visit" in sms.body
    # Run through the task API as a worker would.
    assert send_appointment_reminder.call(appointment.pk, 60, 1) == "duplicate"
    # After the start nothing is sent.
    clock.freeze(NINE + dt.timedelta(minutes=1))
    assert deliver_reminder(appointment.pk, 1440, 1) == "too_late"


def test_reschedule_leaves_old_reminders_doing_nothing(
    alice: User,
    dr_tex: User,
    tex_hours: VisitType,
    october: dt.datetime,
    deferred_tasks: list[TaskResult[Any, Any]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        old = booked(alice, dr_tex, tex_hours)
    old_reminders = reminders_in(deferred_tasks)
    deferred_tasks.clear()
    with django_capture_on_commit_callbacks(execute=True):
        new = do_reschedule(alice, old, starts_at=NINE + dt.timedelta(days=1, hours=1))
    old.refresh_from_db()
    assert old.status == AppointmentStatus.RESCHEDULED
    assert old.reminder_version == 2
    assert new.rescheduled_from == old
    assert new.reminder_version == 2
    assert new.ical_uid == old.ical_uid
    new_start = (NINE + dt.timedelta(days=1, hours=1)).astimezone(dt.UTC)
    assert reminders_in(deferred_tasks) == [
        (new.pk, 1440, 2, new_start - dt.timedelta(hours=24)),
        (new.pk, 60, 2, new_start - dt.timedelta(hours=1)),
    ]
    mail.outbox.clear()
    # Every old reminder, run at its time, does nothing.
    for appointment_id, offset, version, run_after in old_reminders:
        clock.freeze(run_after)
        assert deliver_reminder(appointment_id, offset, version) == "stale"
    assert mail.outbox == []
    # Even a stale task for the new appointment's id with the old version does nothing.
    assert deliver_reminder(new.pk, 60, 1) == "stale"
    clock.freeze(new_start - dt.timedelta(hours=1))
    assert deliver_reminder(new.pk, 60, 2) == "sent"
    assert len(mail.outbox) == 1


def test_cancel_makes_reminders_do_nothing(
    alice: User, dr_tex: User, tex_hours: VisitType, october: dt.datetime
) -> None:
    appointment = booked(alice, dr_tex, tex_hours)
    do_cancel(alice, appointment, reason="conflict")
    clock.freeze(NINE - dt.timedelta(hours=1))
    assert deliver_reminder(appointment.pk, 60, 1) == "stale"
    assert deliver_reminder(appointment.pk, 60, 2) == "stale"  # not booked any more


def test_cancel_cutoff_for_patients_not_for_staff(
    alice: User,
    bob: User,
    dr_tex: User,
    tex_hours: VisitType,
    october: dt.datetime,
    client_for: Callable[..., Client],
) -> None:
    first = booked(alice, dr_tex, tex_hours)
    second = booked(alice, dr_tex, tex_hours, NINE + dt.timedelta(hours=1))
    # Three hours before: fine. (Clients are signed in after each clock jump: idle timeout.)
    clock.freeze(NINE - dt.timedelta(hours=3))
    response = client_for(alice).post(
        f"/api/v1/scheduling/appointments/{first.pk}/cancel",
        {"reason": "cannot make it"},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    # One hour before the second: past the 2-hour cutoff.
    clock.freeze(NINE + dt.timedelta(minutes=1))
    patient = client_for(alice)
    response = patient.post(
        f"/api/v1/scheduling/appointments/{second.pk}/cancel", {}, content_type="application/json"
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "cutoff_passed"
    assert AuditEvent.objects.filter(
        action="appointment.cancel", outcome=Outcome.DENIED, actor_id=alice.pk
    ).exists()
    # Rescheduling online is closed too.
    response = patient.post(
        f"/api/v1/scheduling/appointments/{second.pk}/reschedule",
        {"starts_at": (NINE + dt.timedelta(days=1)).isoformat()},
        content_type="application/json",
    )
    assert response.status_code == 409
    # The clinician can still cancel.
    response = client_for(dr_tex).post(
        f"/api/v1/scheduling/appointments/{second.pk}/cancel",
        {"reason": "clinician unwell"},
        content_type="application/json",
    )
    assert response.status_code == 200
    second.refresh_from_db()
    assert second.status == AppointmentStatus.CANCELLED
    assert second.reminder_version == 2
    # Cancelled twice: a clear 409, not a 500.
    response = client_for(dr_tex).post(
        f"/api/v1/scheduling/appointments/{second.pk}/cancel", {}, content_type="application/json"
    )
    assert response.status_code == 409


def test_cutoff_is_a_setting(
    alice: User, dr_tex: User, tex_hours: VisitType, october: dt.datetime, settings: Any
) -> None:
    settings.CANCEL_CUTOFF_HOURS = 96
    appointment = booked(alice, dr_tex, tex_hours)
    with pytest.raises(ActionRefused, match="96 hours"):
        do_cancel(alice, appointment)


def test_reschedule_via_api_frees_the_old_slot(
    alice: User,
    bob: User,
    dr_tex: User,
    tex_hours: VisitType,
    october: dt.datetime,
    client_for: Callable[..., Client],
) -> None:
    appointment = booked(alice, dr_tex, tex_hours)
    response = client_for(alice).post(
        f"/api/v1/scheduling/appointments/{appointment.pk}/reschedule",
        {"starts_at": (NINE + dt.timedelta(minutes=30)).isoformat()},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["rescheduled_from_id"] == appointment.pk
    # The old 9:00 slot is bookable again (bob would need a TX licence holder; use carol).
    from tests.personas import make_patient

    carol = make_patient("carol@example.com", "TX")
    assert booked(carol, dr_tex, tex_hours).status == AppointmentStatus.BOOKED
    # Bob may not reschedule alice's (404), the taken slot gives 409.
    response = client_for(bob).post(
        f"/api/v1/scheduling/appointments/{response.json()['id']}/reschedule",
        {"starts_at": (NINE + dt.timedelta(hours=1)).isoformat()},
        content_type="application/json",
    )
    assert response.status_code == 404
    response = client_for(alice).post(
        f"/api/v1/scheduling/appointments/{Appointment.objects.latest('pk').pk - 1}/reschedule",
        {"starts_at": NINE.isoformat()},
        content_type="application/json",
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "slot_unavailable"


def test_no_show_by_the_clinician_after_the_start(
    alice: User,
    dr_tex: User,
    dr_ny: User,
    tex_hours: VisitType,
    october: dt.datetime,
    client_for: Callable[..., Client],
) -> None:
    appointment = booked(alice, dr_tex, tex_hours)
    url = f"/api/v1/scheduling/appointments/{appointment.pk}/no-show"
    clock.freeze(NINE - dt.timedelta(minutes=5))
    assert client_for(dr_tex).post(url).status_code == 409  # not started yet
    clock.freeze(NINE + dt.timedelta(minutes=10))
    tex = client_for(dr_tex)
    assert client_for(alice).post(url).status_code == 403  # patients may not
    assert client_for(dr_ny).post(url).status_code == 404  # not his appointment
    response = tex.post(url)
    assert response.status_code == 200
    assert response.json()["status"] == "no_show"
    assert AuditEvent.objects.filter(
        action="appointment.no_show", outcome=Outcome.ALLOWED, actor_id=dr_tex.pk
    ).exists()
    assert tex.post(url).status_code == 409
