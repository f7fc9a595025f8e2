"""Intake: the case submitted, each photo or document (with an access-checked thumbnail),
the clinician's questions, the patient's replies and the answer, and escalation requests
(a red flag's own included). Patients read their own words back; the clinician's internal
reasons stay with staff."""

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from carepath.accounts.models import User
from carepath.care.models import EncounterMode, EscalationRequest, EscalationStatus
from carepath.care.sources.common import clip, is_patient, name_of, when_words
from carepath.care.timeline import TimelineEntry
from carepath.files.models import FileKind
from carepath.intake.models import Case, CaseAttachment, CaseMessage, CaseStatus
from carepath.scheduling.models import Appointment, AppointmentStatus
from carepath.visits.models import Visit, VisitKind

# By CaseMessage.kind; a kind added later reads "Message from ...".
MESSAGE_TITLES = {
    "question": "Question from {author}",
    "reply": "Reply from {author}",
    "answer": "Answer from {author}",
    "closed": "Online visit closed by {author}",
    "escalated": "{author} asked to see you live",
    "visit": "Update from {author}",
}


def case_url(viewer: User, case_id: int) -> str:
    if is_patient(viewer):
        return f"/patient/visits/{case_id}/"
    return f"/staff/cases/{case_id}/review/"


def intake_entries(viewer: User, episode_ids: list[int]) -> Iterator[TimelineEntry]:
    cases = list(
        Case.objects.filter(episode_id__in=episode_ids)
        .exclude(status=CaseStatus.DRAFT)
        .select_related("service_line", "patient")
        .order_by("submitted_at", "pk")
    )
    by_id = {case.pk: case for case in cases}
    for case in cases:
        yield _submitted(viewer, case)
    yield from _attachments(viewer, by_id)
    yield from _messages(viewer, by_id)
    yield from _escalations(viewer, episode_ids)


def _submitted(viewer: User, case: Case) -> TimelineEntry:
    assert case.submitted_at is not None
    assert case.episode_id is not None
    detail = ""
    if case.red_flag_outcome:
        detail = (
            case.red_flag_message
            if is_patient(viewer)
            else f"Red flag {case.red_flag_rule}: {case.red_flag_message}"
        )
    return TimelineEntry(
        at=case.submitted_at,
        episode_id=case.episode_id,
        kind="case.submitted",
        title=f"Online visit submitted: {case.service_line.name}",
        detail=clip(detail),
        encounter_id=case.encounter_id,
        url=case_url(viewer, case.pk),
        actor=name_of(case.patient),
        extra={"case_id": case.pk, "red_flag": case.red_flag_outcome},
    )


def _attachments(viewer: User, cases: dict[int, Case]) -> Iterator[TimelineEntry]:
    attachments = (
        CaseAttachment.objects.filter(case_id__in=cases, removed_at__isnull=True)
        .select_related("file", "message", "added_by")
        .order_by("created_at", "pk")
    )
    number = 0
    for attachment in attachments:
        case, stored = cases[attachment.case_id], attachment.file
        if stored.entered_in_error_at is not None:
            continue
        assert case.submitted_at is not None
        assert case.episode_id is not None
        # Photos added while drafting enter the record when the case is sent.
        at = attachment.message.created_at if attachment.message else case.submitted_at
        at = max(at, attachment.created_at)
        number += 1
        image = stored.kind == FileKind.IMAGE
        yield TimelineEntry(
            at=at,
            episode_id=case.episode_id,
            kind="case.photo" if image else "case.document",
            title=f"Photo {number}" if image else f"Document: {stored.original_name or 'PDF'}",
            detail="Sent with a reply" if attachment.message_id else "",
            encounter_id=case.encounter_id,
            url=f"/files/{stored.pk}/",
            image_url=f"/files/{stored.pk}/thumbnail/" if image and stored.thumbnail_key else "",
            actor=name_of(attachment.added_by),
            extra={"file_id": stored.pk, "case_id": case.pk},
        )


def _messages(viewer: User, cases: dict[int, Case]) -> Iterator[TimelineEntry]:
    messages = (
        CaseMessage.objects.filter(case_id__in=cases)
        .select_related("author")
        .order_by("created_at", "pk")
    )
    for message in messages:
        case = cases[message.case_id]
        assert case.episode_id is not None
        author = name_of(message.author)
        title = MESSAGE_TITLES.get(message.kind, "Message from {author}").format(author=author)
        if message.kind == "escalated" and not is_patient(viewer):
            title = f"{author} escalated to a live visit"
        yield TimelineEntry(
            at=message.created_at,
            episode_id=case.episode_id,
            kind=f"case.{message.kind}",
            title=title,
            detail=clip(message.body),
            encounter_id=case.encounter_id,
            url=case_url(viewer, case.pk),
            actor=author,
            extra={"case_id": case.pk},
        )


# How a live visit of each mode is offered, in the patient's words.
MODE_WAYS = {
    EncounterMode.VIDEO: "by video",
    EncounterMode.AUDIO: "by phone (audio only)",
    EncounterMode.CHAT: "by chat",
    EncounterMode.FACILITATED: "in a facilitated visit",
}


@dataclass(frozen=True)
class Answered:
    """What answered an escalation request: a visit opened at once, or a booked time."""

    now: bool = False
    booked_for: dt.datetime | None = None


def _answers(requests: list[EscalationRequest]) -> dict[int, Answered]:
    """By live encounter id: an on-demand visit opened for it, or the appointment booked for
    it (a booked one before one that was completed or moved)."""
    live_ids = [r.live_encounter_id for r in requests if r.live_encounter_id is not None]
    if not live_ids:
        return {}
    found: dict[int, Answered] = {
        encounter_id: Answered(now=True)
        for encounter_id in Visit.objects.filter(
            encounter_id__in=live_ids, kind=VisitKind.ON_DEMAND
        ).values_list("encounter_id", flat=True)
        if encounter_id is not None
    }
    appointments = (
        Appointment.objects.filter(encounter_id__in=live_ids)
        .exclude(status__in=[AppointmentStatus.CANCELLED, AppointmentStatus.RESCHEDULED])
        .order_by("starts_at", "pk")
    )
    for appointment in appointments:
        if appointment.encounter_id is not None and appointment.encounter_id not in found:
            found[appointment.encounter_id] = Answered(booked_for=appointment.starts_at)
    return found


def _escalation_words(
    viewer: User, request: EscalationRequest, answered: Answered
) -> tuple[str, str]:
    """Title and the patient's detail, worded by what happened: a visit now, times offered,
    or a time booked (never a bare status that reads like an appointment)."""
    who = name_of(request.requested_by)
    mode = EncounterMode(request.mode_wanted)
    way = MODE_WAYS.get(mode, f"in a {mode.label.lower()}")
    patient = is_patient(viewer)
    if answered.now:
        title = f"{who} asked to see {'you' if patient else 'the patient'} {way} now"
        return title, "Your clinician would like to see you live now."
    title = f"{who} offered times for a {mode.label.lower()}"
    if answered.booked_for is not None:
        return title, f"Booked for {when_words(answered.booked_for, viewer)}."
    return title, "Your clinician would like to see you live: choose a time that suits you."


def _escalations(viewer: User, episode_ids: list[int]) -> Iterator[TimelineEntry]:
    requests = list(
        EscalationRequest.objects.filter(encounter__episode_id__in=episode_ids)
        .select_related("encounter", "requested_by")
        .order_by("requested_at", "pk")
    )
    cases = {
        case.encounter_id: case
        for case in Case.objects.filter(encounter__episode_id__in=episode_ids).only(
            "encounter_id", "red_flag_message"
        )
    }
    answers = _answers(requests)
    for request in requests:
        mode = EncounterMode(request.mode_wanted).label.lower()
        red_flag = request.requested_by_id is None
        url = ""
        answered = answers.get(request.live_encounter_id or 0, Answered())
        if red_flag:
            title = (
                "Your answers need a live visit now"
                if is_patient(viewer)
                else f"Red flag: a live visit is needed now ({mode})"
            )
            case = cases.get(request.encounter_id)
            patient_detail = case.red_flag_message if case else ""
        else:
            title, patient_detail = _escalation_words(viewer, request, answered)
            waiting = request.status == EscalationStatus.REQUESTED
            if waiting and is_patient(viewer):
                url = f"/patient/appointments/book/?escalation={request.pk}"
        detail = patient_detail if is_patient(viewer) else request.reason
        if not is_patient(viewer) and answered.booked_for is not None:
            detail = f"{detail} Booked for {when_words(answered.booked_for, viewer)}."
        if request.status == EscalationStatus.CANCELLED:
            detail = f"{detail} This request was withdrawn."
        yield TimelineEntry(
            at=request.requested_at,
            episode_id=request.encounter.episode_id,
            kind="escalation.requested",
            title=title,
            detail=clip(detail.strip()),
            encounter_id=request.encounter_id,
            url=url,
            actor=name_of(request.requested_by),
            extra={
                "mode": request.mode_wanted,
                "red_flag": red_flag,
                "status": request.status,
                "live_encounter_id": request.live_encounter_id,
                "now": answered.now,
                "booked_for": answered.booked_for.isoformat() if answered.booked_for else None,
            },
        )
