"""Writes for care-path definitions and check-ins. The engine's writes (starting and moving
an episode's path) are in carepath.carepaths.engine.

Check-in rules
- At most one pending check-in per episode (scheduled, or sent and not answered; a partial
  unique index enforces it). The engine schedules it from a step's entry action: due
  `after_days` after the step was entered, on the newest version of the questionnaire;
  entering the step again reschedules the one not sent yet; leaving the step before it is
  sent cancels it (do_cancel_unsent_check_ins); the path ending cancels an unsent one and
  closes a sent, unanswered one (do_end_check_ins).
- Sent by deliver_due_check_ins (carepath.carepaths.tasks) once due: an in-app notice with a
  link and an e-mail with no health information; checkin.sent. Sending twice sends once.
- Answered by the patient while the episode is open (a closed episode's check-in is refused
  with EPISODE_CLOSED_MESSAGE; answers checked with the intake questionnaire rules): a CHECK_IN
  work item, due after the service line's SLA, routed like the episode's case (state,
  specialty, language) and offered first to the clinician who last saw the patient (the
  coordinator routing field; an SLA breach lifts it, so it never waits on one person);
  checkin.answered.
- Reviewed by the clinician holding that work item: the item is completed; "needs a visit"
  records an escalation request on the episode's latest encounter; checkin.reviewed with
  outcome "needs_visit" or "ok" (the path decides what comes next)."""

import datetime as dt
import json
from typing import Any

from django.db import transaction

from carepath.access.selectors import may_access_patient
from carepath.accounts.models import PatientProfile, Role, User
from carepath.audit.actions import do_record_audit
from carepath.care.actions import do_request_escalation
from carepath.care.events import emit_episode_event
from carepath.care.models import Encounter, EncounterMode, Episode, EpisodeStatus
from carepath.carepaths.definitions import check_definition
from carepath.carepaths.models import PENDING, CarePathDefinition, CheckIn
from carepath.carepaths.selectors import holds_check_in
from carepath.core import clock
from carepath.core.errors import ActionRefused
from carepath.intake.actions import preferred_language
from carepath.intake.models import Case, ServiceLine
from carepath.intake.questionnaires import (
    MAX_ANSWERS_BYTES,
    AnswersInvalid,
    FieldError,
    FieldsRefused,
    check_answers,
    clean_answers,
)
from carepath.notifications.actions import enqueue_email, notify_user
from carepath.workqueue.actions import do_complete, do_enqueue, do_route_to
from carepath.workqueue.models import WorkItem, WorkItemKind

CHECK_IN_SUBJECT = "carepaths.checkin"
DEFAULT_SLA_MINUTES = 24 * 60
REASON_MAX = 2_000
EPISODE_CLOSED_MESSAGE = (
    "This episode of care is closed, so this check-in can no longer be answered. If you "
    "still have a concern, send your care team a message or start a new visit."
)
EMAIL_SUBJECT = "Carepath: a short check-in from your care team"
EMAIL_BODY = (
    "Your care team would like to know how you are doing.\n\n"
    "Sign in to Carepath to answer a short check-in. For your privacy we do not put any "
    "details in e-mail."
)


class DefinitionInvalid(FieldsRefused):
    def __init__(self, fields: list[FieldError]) -> None:
        super().__init__("invalid_care_path", "The care path definition has errors.", fields)


def check_in_url(check_in: CheckIn) -> str:
    return f"/care-paths/check-ins/{check_in.pk}/"


def check_in_review_url(check_in_id: object) -> str:
    return f"/care-paths/check-ins/{check_in_id}/review/"


# --- Definitions -------------------------------------------------------------------------------


def do_save_definition(
    admin: User, service_line: ServiceLine, definition: Any
) -> CarePathDefinition:
    """Save the definition as the next version of the service line's path. Nothing is saved
    when it has a problem (every problem is reported). Saving what is already the current
    version changes nothing and returns it."""
    if admin.role != Role.ADMIN:
        raise ActionRefused("forbidden", "Only administrators edit care paths.", status=403)
    errors = check_definition(definition)
    if errors:
        do_record_audit(
            "care_path.save",
            actor=admin,
            object_type="service_line",
            object_id=service_line.pk,
            outcome="denied",
            detail={"code": "invalid_care_path", "problems": len(errors)},
        )
        raise DefinitionInvalid(errors)
    with transaction.atomic():
        # The service line row serializes two admins saving at once: versions stay 1, 2, 3.
        ServiceLine.objects.select_for_update().get(pk=service_line.pk)
        latest = (
            CarePathDefinition.objects.filter(service_line=service_line)
            .order_by("-version")
            .first()
        )
        if latest is not None and _same(latest.definition, definition):
            return latest
        saved = CarePathDefinition.objects.create(
            service_line=service_line,
            version=(latest.version + 1) if latest else 1,
            definition=definition,
            created_by=admin,
        )
        do_record_audit(
            "care_path.save",
            actor=admin,
            object_type="care_path",
            object_id=saved.pk,
            detail={"service_line": service_line.code, "version": saved.version},
        )
    return saved


def _same(left: Any, right: Any) -> bool:
    return json.dumps(left, sort_keys=True) == json.dumps(right, sort_keys=True)


# --- Check-ins: sending ------------------------------------------------------------------------


def do_send_check_in(check_in_id: int) -> bool:
    """Send one due check-in; False when it is not due, already sent or cancelled (safe to
    run twice, or in two workers: the row lock and the re-check decide)."""
    with transaction.atomic():
        check_in = (
            CheckIn.objects.select_for_update(of=("self",))
            .select_related("episode__patient")
            .filter(
                pk=check_in_id,
                sent_at__isnull=True,
                cancelled_at__isnull=True,
                due_at__lte=clock.now(),
            )
            .first()
        )
        if check_in is None:
            return False
        episode = check_in.episode
        if episode.status != EpisodeStatus.OPEN:
            _cancel(check_in, "episode closed")
            return False
        check_in.sent_at = clock.now()
        check_in.save(update_fields=["sent_at"])
        patient = episode.patient
        notify_user(
            patient,
            kind="check_in",
            title="How are you doing? Please answer a short check-in",
            url=check_in_url(check_in),
        )
        enqueue_email([patient.email], EMAIL_SUBJECT, EMAIL_BODY)
        _audit("check_in.send", None, check_in)
        emit_episode_event(episode.pk, "checkin.sent", check_in_id=check_in.pk)
    return True


def _cancel(check_in: CheckIn, reason: str) -> None:
    check_in.cancelled_at = clock.now()
    check_in.save(update_fields=["cancelled_at"])
    _audit("check_in.cancel", None, check_in, reason=reason)


def _close(check_in: CheckIn, reason: str) -> None:
    check_in.closed_at = clock.now()
    check_in.save(update_fields=["closed_at"])
    _audit("check_in.close", None, check_in, reason=reason)


def _pending(episode: Episode) -> list[CheckIn]:
    return list(
        CheckIn.objects.select_for_update(of=("self",))
        .select_related("episode")
        .filter(PENDING, episode=episode)
        .order_by("pk")
    )


def do_cancel_unsent_check_ins(episode: Episode, reason: str) -> int:
    """The episode's check-in that was planned but not sent will not be (its step was left).
    A sent one stays: the patient may still answer it."""
    unsent = [check_in for check_in in _pending(episode) if check_in.sent_at is None]
    for check_in in unsent:
        _cancel(check_in, reason)
    return len(unsent)


def do_end_check_ins(episode: Episode, reason: str) -> int:
    """The episode's care path ended: a check-in not sent yet is cancelled, one sent and not
    answered is closed (the patient can no longer answer it). Returns how many ended."""
    pending = _pending(episode)
    for check_in in pending:
        if check_in.sent_at is None:
            _cancel(check_in, reason)
        else:
            _close(check_in, reason)
    return len(pending)


def _audit(action: str, actor: User | None, check_in: CheckIn, **detail: Any) -> None:
    do_record_audit(
        action,
        actor=actor,
        object_type="check_in",
        object_id=check_in.pk,
        patient_id=check_in.episode.patient_id,
        detail=detail or None,
    )


# --- Check-ins: the patient answers ------------------------------------------------------------


def _lock(check_in: CheckIn) -> CheckIn:
    return (
        CheckIn.objects.select_for_update(of=("self",))
        .select_related("episode__patient", "episode__service_line__specialty", "questionnaire")
        .get(pk=check_in.pk)
    )


def _check_answerable(patient: User, check_in: CheckIn) -> None:
    if patient.role != Role.PATIENT or check_in.episode.patient_id != patient.pk:
        raise ActionRefused("not_found", "No check-in with that id.", status=404)
    if check_in.sent_at is None or check_in.cancelled_at is not None:
        raise ActionRefused("not_found", "No check-in with that id.", status=404)
    if check_in.answered_at is not None:
        raise ActionRefused(
            "already_answered", "You already answered this check-in. Thank you.", status=409
        )
    if check_in.closed_at is not None or check_in.episode.status != EpisodeStatus.OPEN:
        raise ActionRefused("episode_closed", EPISODE_CLOSED_MESSAGE, status=409)


def _check_size(answers: Any) -> None:
    if not isinstance(answers, dict):
        raise ActionRefused(
            "invalid_answers",
            "Answers must be a JSON object keyed by linkId.",
            field="answers",
            status=422,
        )
    if len(json.dumps(answers, default=str)) > MAX_ANSWERS_BYTES:
        raise ActionRefused(
            "too_large", "These answers are too long to save.", field="answers", status=422
        )


def do_save_check_in_draft(patient: User, check_in: CheckIn, answers: Any) -> CheckIn:
    """Keep what the patient typed, checked or not, so nothing is lost."""
    _check_size(answers)
    with transaction.atomic():
        locked = _lock(check_in)
        _check_answerable(patient, locked)
        locked.answers = answers
        locked.draft_saved_at = clock.now()
        locked.save(update_fields=["answers", "draft_saved_at"])
        _audit("check_in.save_draft", patient, locked)
    return locked


def do_answer_check_in(patient: User, check_in: CheckIn, answers: Any) -> CheckIn:
    """Check and store the answers, put the check-in on the work queue, tell the path."""
    _check_size(answers)
    with transaction.atomic():
        locked = _lock(check_in)
        _check_answerable(patient, locked)
        errors = check_answers(locked.questionnaire, answers, patient_id=patient.pk)
        if errors:
            raise AnswersInvalid(errors)
        now = clock.now()
        locked.answers = clean_answers(locked.questionnaire, answers)
        locked.answered_at = now
        locked.draft_saved_at = now
        locked.work_item = _enqueue_review(locked, now)
        locked.save(update_fields=["answers", "answered_at", "draft_saved_at", "work_item"])
        _audit("check_in.answer", patient, locked, work_item_id=locked.work_item.pk)
        emit_episode_event(
            locked.episode_id,
            "checkin.answered",
            actor_id=patient.pk,
            check_in_id=locked.pk,
        )
    return locked


def _state_of_care(episode: Episode) -> str:
    """The state the patient was in for this episode's care: its latest case's, else the
    state on their profile."""
    case_state = (
        Case.objects.filter(episode=episode, submitted_at__isnull=False)
        .order_by("-submitted_at")
        .values_list("state_at_submission", flat=True)
        .first()
    )
    if case_state:
        return str(case_state)
    profile_state = (
        PatientProfile.objects.filter(user_id=episode.patient_id).values_list("state", flat=True)
    ).first()
    return str(profile_state or "")


def last_clinician(episode: Episode) -> User | None:
    """The clinician who last saw the patient in this episode."""
    encounter = (
        Encounter.objects.filter(episode=episode, clinician__isnull=False)
        .select_related("clinician")
        .order_by("-started_at", "-created_at", "-pk")
        .first()
    )
    return encounter.clinician if encounter is not None else None


def _enqueue_review(check_in: CheckIn, now: dt.datetime) -> WorkItem:
    episode = check_in.episode
    line = episode.service_line
    sla = line.sla_minutes if line is not None else DEFAULT_SLA_MINUTES
    item = do_enqueue(
        kind=WorkItemKind.CHECK_IN,
        patient=episode.patient,
        subject_type=CHECK_IN_SUBJECT,
        subject_id=str(check_in.pk),
        title=f"Check-in · {line.name if line is not None else episode.title}",
        due_at=now + dt.timedelta(minutes=sla),
        required_state=_state_of_care(episode),
        required_specialty=line.specialty if line is not None else None,
        required_language=preferred_language(episode.patient),
    )
    _offer_to_last_clinician(item, episode)
    return item


def _offer_to_last_clinician(item: WorkItem, episode: Episode) -> None:
    """Route the new item to the clinician who last saw the patient, when they may take it.
    Uses the queue's routing field (what a coordinator's routing sets); the SLA breach lifts
    it, so the patient never waits on one person."""
    clinician = last_clinician(episode)
    if clinician is not None:
        do_route_to(item, clinician, reason="last clinician who saw the patient")


# --- Check-ins: the clinician reviews ----------------------------------------------------------


def _check_reviewer(clinician: User, check_in: CheckIn) -> None:
    if clinician.role != Role.CLINICIAN:
        raise ActionRefused("forbidden", "Only clinicians review check-ins.", status=403)
    if not may_access_patient(clinician, check_in.episode.patient_id):
        raise ActionRefused("not_found", "No check-in with that id.", status=404)
    if check_in.answered_at is None:
        raise ActionRefused(
            "not_answered", "The patient has not answered this check-in yet.", status=409
        )
    if check_in.reviewed_at is not None:
        raise ActionRefused("already_reviewed", "This check-in was already reviewed.", status=409)
    if not holds_check_in(clinician, check_in):
        raise ActionRefused(
            "not_held", "Claim this check-in in the queue before reviewing it.", status=409
        )


def latest_encounter(episode: Episode) -> Encounter | None:
    return Encounter.objects.filter(episode=episode).order_by("-created_at", "-pk").first()


def do_review_check_in(
    clinician: User, check_in: CheckIn, *, needs_visit: bool = False, reason: str = ""
) -> CheckIn:
    reason = (reason or "").strip()
    if needs_visit and not reason:
        raise ActionRefused(
            "reason_required", "Say why the patient needs a visit.", field="reason", status=422
        )
    if len(reason) > REASON_MAX:
        raise ActionRefused(
            "too_long",
            f"Keep the reason under {REASON_MAX} characters.",
            field="reason",
            status=422,
        )
    with transaction.atomic():
        locked = _lock(check_in)
        _check_reviewer(clinician, locked)
        escalation_id = None
        if needs_visit:
            encounter = latest_encounter(locked.episode)
            if encounter is None:
                raise ActionRefused(
                    "no_encounter", "This episode has no encounter to escalate.", status=409
                )
            escalation_id = do_request_escalation(
                clinician, encounter, mode=EncounterMode.VIDEO, reason=reason
            ).pk
        locked.reviewed_at = clock.now()
        locked.reviewed_by = clinician
        locked.needs_visit = needs_visit
        locked.save(update_fields=["reviewed_at", "reviewed_by", "needs_visit"])
        assert locked.work_item_id is not None
        do_complete(clinician, locked.work_item_id)
        _audit(
            "check_in.review",
            clinician,
            locked,
            needs_visit=needs_visit,
            escalation_request_id=escalation_id,
        )
        notify_user(
            locked.episode.patient,
            kind="check_in",
            title=(
                "Your clinician would like to see you in a video visit"
                if needs_visit
                else "Your clinician reviewed your check-in"
            ),
            url=check_in_url(locked),
        )
        emit_episode_event(
            locked.episode_id,
            "checkin.reviewed",
            actor_id=clinician.pk,
            check_in_id=locked.pk,
            outcome="needs_visit" if needs_visit else "ok",
        )
    return locked
