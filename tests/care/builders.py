"""Care states built with the real actions, for the list, home-page and browser tests: a case
submitted and claimed; escalated to a video visit now (the patient is being called); or
escalated to a scheduled visit and booked."""

import datetime as dt
import zoneinfo

from carepath.accounts.models import User
from carepath.care.models import Episode
from carepath.core import clock
from carepath.intake.actions import do_escalate_case, do_start_case, do_submit_case
from carepath.intake.models import Case, ServiceLine
from carepath.scheduling.actions import do_book
from carepath.scheduling.models import Appointment, VisitMode, VisitType, WeeklyAvailability
from carepath.visits.models import Visit
from carepath.workqueue.actions import do_claim
from tests.intake.conftest import derm_answers, upload_photo

CHICAGO = zoneinfo.ZoneInfo("America/Chicago")


def submitted_case(patient: User, clinician: User, line: ServiceLine, concern: str) -> Case:
    """A dermatology case in the patient's words, submitted and claimed by the clinician."""
    photo_id = upload_photo(patient)
    case = do_start_case(patient, line, "TX")
    case.answers = derm_answers([photo_id], concern=concern)
    case.save()
    case = do_submit_case(patient, case)
    clock.advance(dt.timedelta(minutes=10))
    do_claim(clinician, case.work_item_id or 0)
    return case


def episode_of(case: Case) -> Episode:
    case.refresh_from_db()
    assert case.episode is not None
    return case.episode


def called_now(patient: User, clinician: User, line: ServiceLine, concern: str) -> Visit:
    """The clinician escalates to a video visit now: the patient is being called."""
    case = submitted_case(patient, clinician, line, concern)
    do_escalate_case(clinician, case, mode="video", reason="Let me look at it live.", when="now")
    return Visit.objects.filter(patient=patient).latest("pk")


def clinician_hours(clinician: User, line: ServiceLine) -> VisitType:
    """Weekdays 9:00-12:00 in Chicago, a 30-minute video visit for the service line."""
    clinician.time_zone = "America/Chicago"
    clinician.save(update_fields=["time_zone"])
    for weekday in range(5):
        WeeklyAvailability.objects.create(
            clinician=clinician,
            weekday=weekday,
            start_time=dt.time(9),
            end_time=dt.time(12),
            valid_from=dt.date(2026, 1, 1),
        )
    return VisitType.objects.create(
        clinician=clinician,
        name="30-minute video visit",
        duration_minutes=30,
        buffer_minutes=0,
        mode=VisitMode.VIDEO,
        service_line=line,
    )


def offered_times(patient: User, clinician: User, line: ServiceLine, concern: str) -> Case:
    """The clinician escalates to a scheduled visit: the patient is offered times."""
    case = submitted_case(patient, clinician, line, concern)
    return do_escalate_case(
        clinician, case, mode="video", reason="Needs a closer look.", when="scheduled"
    )


def booked(patient: User, clinician: User, case: Case, starts_at: dt.datetime) -> Appointment:
    """The patient books the offered visit at `starts_at`."""
    from carepath.care.models import EscalationRequest

    request = EscalationRequest.objects.get(encounter_id=case.encounter_id or 0)
    visit_type = VisitType.objects.get(clinician=clinician)
    return do_book(
        patient,
        patient=patient,
        clinician=clinician,
        visit_type=visit_type,
        starts_at=starts_at,
        escalation_id=request.pk,
    )
