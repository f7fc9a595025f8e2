"""Writes for asynchronous intake: drafts, uploads, submission (with red flags and routing to
the work queue), and the clinician's review (answer, ask for more, close, escalate).

SLA rules
- On submit the work item is due `service_line.sla_minutes` after submission; a
  live_visit_now red flag makes it due in the rule's `due_minutes` (default 30) with high
  priority; an emergency red flag in 15 minutes with the highest priority (a clinician follows
  up; the patient has been told to go to emergency care).
- "Ask for more information" parks the case: its work item is completed. When the patient
  replies, the same item returns to the queue (do_requeue) due at
      reply time + max(half the service line's SLA, 1 hour), never more than the full SLA.
  The patient has waited once already; the answer should come faster than a new case's."""

import datetime as dt
import json
import re
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from carepath.accounts.models import PatientProfile, Role, Specialty, User
from carepath.audit.actions import do_record_audit
from carepath.care.actions import (
    OPEN_ENCOUNTER,
    do_begin_encounter,
    do_end_encounter,
    do_open_episode,
    do_request_escalation,
    do_save_note_draft,
    do_sign_note,
    do_start_encounter,
)
from carepath.care.events import emit_episode_event
from carepath.care.models import ClinicalNote, Encounter, EncounterMode
from carepath.consent.selectors import check_care_consent
from carepath.core import clock
from carepath.core.errors import ActionRefused
from carepath.core.languages import Language
from carepath.core.us_states import UsState
from carepath.files.actions import do_store_upload
from carepath.intake.models import (
    Case,
    CaseAttachment,
    CaseMessage,
    CaseStatus,
    MessageKind,
    Questionnaire,
    RedFlagOutcome,
    ServiceLine,
)
from carepath.intake.questionnaires import (
    MAX_ANSWERS_BYTES,
    AnswersInvalid,
    FieldError,
    FieldsRefused,
    QuestionnaireInvalid,
    build_tree,
    check_answers,
    check_questionnaire,
    clean_answers,
)
from carepath.intake.red_flags import RedFlag, check_red_flag_rules, evaluate_red_flags
from carepath.intake.selectors import (
    CASE_SUBJECT,
    case_work_item,
    clinician_available,
    emergency_awaits_live_visit,
    holds_case,
    patient_file,
)
from carepath.notifications.actions import enqueue_email, notify_user
from carepath.visits.actions import QueueRouting, do_open_escalated_visit
from carepath.visits.models import Visit, VisitMode
from carepath.visits.selectors import open_on_demand_visit
from carepath.visits.wording import duration_words
from carepath.workqueue.actions import do_complete, do_enqueue, do_requeue
from carepath.workqueue.models import WorkItemKind, WorkItemStatus

PRIORITY_ROUTINE = 0
PRIORITY_LIVE_VISIT = 50
PRIORITY_EMERGENCY = 100
REPLY_MIN_DUE = dt.timedelta(hours=1)
MESSAGE_MAX = 5_000
MAX_ATTACHMENTS = 20
EMAIL_SUBJECT = "Carepath: you have a new message"
EMAIL_BODY = (
    "You have a new message in Carepath.\n\n"
    "Sign in to Carepath to read it. For your privacy we do not put any details in e-mail."
)
EMERGENCY_MESSAGE = "Go to emergency care or call 911 now. Do not wait for an online answer."

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,59}$")
REVIEWABLE = frozenset({CaseStatus.SUBMITTED, CaseStatus.IN_REVIEW})
ANSWERABLE = REVIEWABLE | {CaseStatus.ESCALATED}
CLOSABLE = ANSWERABLE | {CaseStatus.NEEDS_INFO}
# Nobody holds these cases in the queue: a clinician with access to the patient closes them.
PARKED = frozenset({CaseStatus.NEEDS_INFO, CaseStatus.FOLLOW_UP})
ESCALATE_NOW = "now"
ESCALATE_SCHEDULED = "scheduled"
VISIT_EMAIL_SUBJECT = "Carepath: your clinician is ready to see you"


def reply_due_at(service_line: ServiceLine, replied_at: dt.datetime) -> dt.datetime:
    """The documented rule for a case that returns after the patient's reply."""
    sla = dt.timedelta(minutes=service_line.sla_minutes)
    return replied_at + min(sla, max(sla / 2, REPLY_MIN_DUE))


def _audit(action: str, actor: User | None, case: Case, **detail: Any) -> None:
    do_record_audit(
        action,
        actor=actor,
        object_type="case",
        object_id=case.pk,
        patient_id=case.patient_id,
        detail=detail or None,
    )


def _lock(case: Case) -> Case:
    return (
        Case.objects.select_for_update()
        .select_related("service_line", "questionnaire")
        .get(pk=case.pk)
    )


def _clean_text(text: str, field: str, *, required: bool = True, limit: int = MESSAGE_MAX) -> str:
    text = (text or "").strip()
    if required and not text:
        raise ActionRefused("required", "This field is required.", field=field, status=422)
    if len(text) > limit:
        raise ActionRefused(
            "too_long",
            f"Keep this under {limit} characters (it has {len(text)}).",
            field=field,
            status=422,
        )
    return text


def notify_patient(case: Case, title: str, *, url: str = "") -> None:
    """In the app with the detail; by e-mail with none (no health information)."""
    notify_user(case.patient, kind="case", title=title, url=url or f"/patient/visits/{case.pk}/")
    enqueue_email([case.patient.email], EMAIL_SUBJECT, EMAIL_BODY)


def wait_url(visit: Visit) -> str:
    return f"/visits/{visit.pk}/wait/"


def booking_url(escalation_id: int) -> str:
    return f"/patient/appointments/book/?escalation={escalation_id}"


def notify_live_visit(patient: User, visit: Visit, title: str) -> None:
    """The patient is wanted in a live visit now: the notification and the e-mail (sent on
    commit) take them straight to the visit's waiting page. The e-mail says nothing about
    their health, only that a clinician is waiting."""
    notify_user(patient, kind="visit", title=title, url=wait_url(visit))
    enqueue_email(
        [patient.email],
        VISIT_EMAIL_SUBJECT,
        "A clinician is ready to see you in a live visit now.\n\n"
        f"Join your visit: {str(settings.SITE_URL).rstrip('/')}{wait_url(visit)}\n\n"
        "You will be asked to sign in. For your privacy we do not put any details in e-mail.",
    )


def _emit(case: Case, name: str, actor: User | None, **detail: Any) -> None:
    if case.episode_id is not None:
        emit_episode_event(
            case.episode_id, name, actor_id=actor.pk if actor else None, case_id=case.pk, **detail
        )


# --- Patient: drafts and submission ------------------------------------------------------------


def check_state(service_line: ServiceLine, state: str) -> None:
    if state not in UsState.values:
        raise ActionRefused(
            "invalid_state", "Choose the state you are in right now.", field="state", status=422
        )
    if not clinician_available(service_line, state):
        raise ActionRefused(
            "no_clinician_in_state",
            f"No clinician licensed in {UsState(state).label} offers {service_line.name} "
            f"online today, so we cannot start this visit while you are there. "
            "If you need care now, contact a local clinic; in an emergency call 911.",
            field="state",
            status=409,
        )


def do_start_case(
    patient: User, service_line: ServiceLine, state: str, *, resume: bool = False
) -> Case:
    """A draft for this service line, for the state the patient confirms they are in now.
    No care starts yet (that is at submit, behind the consent check). With `resume`, an
    unfinished draft for the same service line is picked up instead of starting another."""
    if patient.role != Role.PATIENT:
        raise ActionRefused("not_patient", "Only patients start online visits.", status=403)
    if not service_line.active or "async" not in (service_line.allowed_modes or []):
        raise ActionRefused(
            "service_unavailable",
            "This service is not offered online right now.",
            field="service_line",
        )
    check_state(service_line, state)
    with transaction.atomic():
        if resume:
            draft = (
                Case.objects.select_for_update()
                .filter(patient=patient, service_line=service_line, status=CaseStatus.DRAFT)
                .order_by("-draft_saved_at")
                .first()
            )
            if draft is not None:
                if draft.state_at_submission != state:
                    draft.state_at_submission = state
                    draft.save(update_fields=["state_at_submission"])
                _audit("case.resume", patient, draft, state=state)
                return draft
        case = Case.objects.create(
            patient=patient,
            service_line=service_line,
            questionnaire=service_line.questionnaire,
            state_at_submission=state,
        )
        _audit("case.create", patient, case, service_line=service_line.code, state=state)
    return case


def _require_draft(case: Case) -> None:
    if case.status != CaseStatus.DRAFT:
        raise ActionRefused(
            "not_draft", "This visit was already submitted; it can no longer change.", status=409
        )


def do_save_draft(patient: User, case: Case, answers: Any, *, state: str | None = None) -> Case:
    """Keep whatever the patient typed (checked only on submit): nothing is lost."""
    if not isinstance(answers, dict):
        raise ActionRefused("invalid_answers", "Answers must be a JSON object.", field="answers")
    if len(json.dumps(answers, default=str)) > MAX_ANSWERS_BYTES:
        raise ActionRefused(
            "too_large", "These answers are too long to save.", field="answers", status=413
        )
    with transaction.atomic():
        locked = _lock(case)
        _require_draft(locked)
        locked.answers = answers
        fields = ["answers", "draft_saved_at"]
        if state is not None and state != locked.state_at_submission:
            check_state(locked.service_line, state)
            locked.state_at_submission = state
            fields.append("state_at_submission")
        locked.draft_saved_at = clock.now()
        locked.save(update_fields=fields)
        _audit("case.save_draft", patient, locked)
    return locked


def _attach_to_answers(answers: dict[str, Any], case: Case, link_id: str, file_id: int) -> None:
    item = build_tree(case.questionnaire.definition).by_link_id.get(link_id)
    assert item is not None
    if item.repeats:
        current = answers.get(link_id)
        values = current if isinstance(current, list) else ([current] if current else [])
        if file_id not in values:
            answers[link_id] = [*values, file_id]
    else:
        answers[link_id] = file_id


def _check_link_id(case: Case, link_id: str) -> None:
    if link_id:
        item = build_tree(case.questionnaire.definition).by_link_id.get(link_id)
        if item is None or item.type != "attachment":
            raise ActionRefused(
                "unknown_question", "That is not a photo or document question.", field="link_id"
            )


def _check_room(case: Case) -> None:
    if CaseAttachment.objects.filter(case=case, removed_at__isnull=True).count() >= MAX_ATTACHMENTS:
        raise ActionRefused(
            "too_many_files", f"A visit holds at most {MAX_ATTACHMENTS} files.", field="file"
        )


def do_attach_file(patient: User, case: Case, file_id: int, *, link_id: str = "") -> CaseAttachment:
    """Put a file the patient uploaded on the draft (and, for a photo question, into its
    answer)."""
    stored = patient_file(patient, file_id)
    if stored is None:
        raise ActionRefused(
            "unknown_file", "That file is not one you uploaded.", field="file_id", status=422
        )
    with transaction.atomic():
        locked = _lock(case)
        _require_draft(locked)
        _check_link_id(locked, link_id)
        existing = CaseAttachment.objects.filter(case=locked, file=stored).first()
        if existing is not None and existing.removed_at is None:
            return existing
        _check_room(locked)
        if existing is not None:
            existing.removed_at = None
            existing.link_id = link_id
            existing.save(update_fields=["removed_at", "link_id"])
            attachment = existing
        else:
            attachment = CaseAttachment.objects.create(
                case=locked, file=stored, link_id=link_id, added_by=patient
            )
        if link_id:
            answers = dict(locked.answers or {})
            _attach_to_answers(answers, locked, link_id, stored.pk)
            locked.answers = answers
            locked.draft_saved_at = clock.now()
            locked.save(update_fields=["answers", "draft_saved_at"])
        _audit("case.attach", patient, locked, file_id=stored.pk, link_id=link_id)
    return attachment


def do_attach_upload(
    patient: User, case: Case, upload: "UploadedFile[bytes]", *, link_id: str = ""
) -> CaseAttachment:
    """Store the upload through the safe pipeline, then attach it. The pipeline's refusals
    (type, size, pixels, empty) come back as they are."""
    _require_draft(case)
    _check_link_id(case, link_id)
    _check_room(case)
    stored = do_store_upload(patient, patient.pk, upload)
    return do_attach_file(patient, case, stored.pk, link_id=link_id)


def do_remove_attachment(patient: User, case: Case, attachment_id: int) -> None:
    with transaction.atomic():
        locked = _lock(case)
        _require_draft(locked)
        attachment = CaseAttachment.objects.filter(
            pk=attachment_id, case=locked, removed_at__isnull=True
        ).first()
        if attachment is None:
            raise ActionRefused("not_found", "No such file on this visit.", status=404)
        attachment.removed_at = clock.now()
        attachment.save(update_fields=["removed_at"])
        answers = dict(locked.answers or {})
        if attachment.link_id in answers:
            value = answers[attachment.link_id]
            if isinstance(value, list):
                answers[attachment.link_id] = [v for v in value if v != attachment.file_id]
            elif value == attachment.file_id:
                del answers[attachment.link_id]
            locked.answers = answers
            locked.save(update_fields=["answers"])
        _audit("case.detach", patient, locked, file_id=attachment.file_id)


def preferred_language(patient: User) -> str:
    profile = PatientProfile.objects.filter(user=patient).only("preferred_language").first()
    language = profile.preferred_language if profile else Language.EN
    return "" if language == Language.EN else str(language)


def _link_answer_files(patient: User, case: Case, answers: dict[str, Any]) -> None:
    """Files named in photo answers (e.g. uploaded through /api/v1/files) become attachments
    of the case, so the reviewer sees them beside the answers."""
    for item in build_tree(case.questionnaire.definition).walk():
        if item.type != "attachment":
            continue
        value = answers.get(item.link_id)
        for file_id in value if isinstance(value, list) else [value] if value else []:
            attachment, created = CaseAttachment.objects.get_or_create(
                case=case,
                file_id=file_id,
                defaults={"link_id": item.link_id, "added_by": patient},
            )
            if not created and attachment.removed_at is not None:
                attachment.removed_at = None
                attachment.save(update_fields=["removed_at"])


def do_submit_case(patient: User, case: Case) -> Case:
    """Check the answers, apply red-flag rules, open the episode and its async encounter and
    put the case on the work queue. Submitting a case that is already submitted returns it
    unchanged (safe to retry)."""
    check_care_consent(patient)
    with transaction.atomic():
        locked = _lock(case)
        if locked.patient_id != patient.pk:
            raise ActionRefused("not_found", "No case with that id.", status=404)
        if locked.status != CaseStatus.DRAFT:
            return locked
        line = locked.service_line
        check_state(line, locked.state_at_submission)
        errors = check_answers(locked.questionnaire, locked.answers, patient_id=patient.pk)
        if errors:
            _audit("case.submit", patient, locked, refused="invalid_answers")
            raise AnswersInvalid(errors)
        answers = clean_answers(locked.questionnaire, locked.answers)
        _link_answer_files(patient, locked, answers)
        flag = evaluate_red_flags(line.red_flag_rules, locked.questionnaire.definition, answers)
        now = clock.now()
        episode = do_open_episode(patient, title=line.name, service_line_id=line.pk)
        encounter = do_start_encounter(episode, EncounterMode.ASYNC, by=patient)
        locked.answers = answers
        locked.episode = episode
        locked.encounter = encounter
        locked.submitted_at = now
        locked.status = CaseStatus.SUBMITTED
        due_at = now + dt.timedelta(minutes=line.sla_minutes)
        priority = PRIORITY_ROUTINE
        title = line.name
        if flag is not None:
            locked.red_flag_outcome = flag.outcome
            locked.red_flag_rule = flag.rule_id
            locked.red_flag_message = flag.message
            due_at = now + dt.timedelta(minutes=flag.due_minutes)
            if flag.outcome == RedFlagOutcome.EMERGENCY:
                locked.status = CaseStatus.ESCALATED
                priority = PRIORITY_EMERGENCY
                title = f"EMERGENCY red flag · {line.name}"
            else:
                locked.needs_live_visit = True
                priority = PRIORITY_LIVE_VISIT
                title = f"Live visit now · {line.name}"
                if open_on_demand_visit(patient.pk) is None:
                    return _submit_into_live_visit(patient, locked, encounter, flag)
                do_request_escalation(
                    None,
                    encounter,
                    mode=EncounterMode.VIDEO,
                    reason=f"Red flag {flag.rule_id}: {flag.message}",
                )
        item = do_enqueue(
            kind=WorkItemKind.ASYNC_CASE,
            patient=patient,
            subject_type=CASE_SUBJECT,
            subject_id=str(locked.pk),
            title=title,
            due_at=due_at,
            priority=priority,
            required_state=locked.state_at_submission,
            required_specialty=line.specialty,
            required_language=preferred_language(patient),
        )
        locked.work_item = item
        locked.save()
        _audit(
            "case.submit",
            patient,
            locked,
            red_flag=locked.red_flag_outcome,
            work_item_id=item.pk,
        )
        _emit(locked, "case.submitted", patient, red_flag=locked.red_flag_outcome)
        notify_user(
            patient,
            kind="case",
            title=(
                EMERGENCY_MESSAGE
                if locked.red_flag_outcome == RedFlagOutcome.EMERGENCY
                else f"We received your {line.name} visit"
            ),
            url=f"/patient/visits/{locked.pk}/",
        )
    return locked


def _submit_into_live_visit(patient: User, case: Case, encounter: Encounter, flag: RedFlag) -> Case:
    """The rest of a submission whose live_visit_now red flag escalates it on its own: an
    on-demand video visit in the shared queue (high priority, due in the rule's minutes),
    in this episode (escalated from the async encounter); the case waits on that visit (its
    queue item is the visit request) and the patient is sent to the waiting room. (A patient
    already waiting for another live visit gets the old route: the case itself, high
    priority; see do_submit_case.)"""
    case.status = CaseStatus.ESCALATED
    case.save()
    _emit(case, "case.submitted", patient, red_flag=case.red_flag_outcome)
    _emit(case, "case.escalated", patient, via="red_flag", rule=flag.rule_id, when=ESCALATE_NOW)
    request = do_request_escalation(
        None,
        encounter,
        mode=EncounterMode.VIDEO,
        reason=f"Red flag {flag.rule_id}: {flag.message}",
    )
    line = case.service_line
    visit = do_open_escalated_visit(
        request,
        mode=VisitMode.VIDEO,
        by=patient,
        queue=QueueRouting(
            required_state=case.state_at_submission,
            required_specialty=line.specialty,
            required_language=preferred_language(patient),
            priority=PRIORITY_LIVE_VISIT,
            due_minutes=flag.due_minutes,
        ),
        reason=f"{line.name}: needs a live visit now",
    )
    _audit(
        "case.submit",
        patient,
        case,
        red_flag=case.red_flag_outcome,
        visit_id=visit.pk,
        work_item_id=visit.work_item_id,
    )
    notify_live_visit(patient, visit, "A clinician needs to see you now: join your visit")
    return case


def do_reply_to_case(
    patient: User,
    case: Case,
    text: str,
    uploads: Sequence["UploadedFile[bytes]"] = (),
    *,
    file_ids: Sequence[int] = (),
) -> CaseMessage:
    """The patient answers the clinician's question (with new files, uploaded here or
    earlier through /api/v1/files); the case returns to the queue. After a live visit
    (follow-up) the patient keeps writing here: the visit's clinician is told."""
    text = _clean_text(text, "text")
    earlier = [patient_file(patient, file_id) for file_id in dict.fromkeys(file_ids)]
    if any(file is None for file in earlier):
        raise ActionRefused(
            "unknown_file",
            "One of the files is not one you uploaded.",
            field="file_ids",
            status=422,
        )
    if len(uploads) + len(earlier) > MAX_ATTACHMENTS:
        raise ActionRefused("too_many_files", "Too many files at once.", field="files")
    if case.status not in PARKED:
        raise ActionRefused(
            "not_waiting", "This visit is not waiting for information from you.", status=409
        )
    stored = [file for file in earlier if file is not None]
    stored += [do_store_upload(patient, patient.pk, upload) for upload in uploads]
    with transaction.atomic():
        locked = _lock(case)
        if locked.status not in PARKED:
            raise ActionRefused(
                "not_waiting", "This visit is not waiting for information from you.", status=409
            )
        follow_up = locked.status == CaseStatus.FOLLOW_UP
        message = CaseMessage.objects.create(
            case=locked,
            author=patient,
            kind=MessageKind.MESSAGE if follow_up else MessageKind.REPLY,
            body=text,
        )
        for file in stored:
            CaseAttachment.objects.update_or_create(
                case=locked, file=file, defaults={"message": message, "added_by": patient}
            )
        if follow_up:
            _tell_follow_up_clinician(locked)
        else:
            now = clock.now()
            locked.status = CaseStatus.SUBMITTED
            locked.save(update_fields=["status"])
            item = case_work_item(locked)
            if item is not None:
                do_requeue(item.pk, due_at=reply_due_at(locked.service_line, now))
        _audit("case.reply", patient, locked, message_id=message.pk, files=len(stored))
    return message


def _tell_follow_up_clinician(case: Case) -> None:
    """The clinician of the latest live visit the case escalated to reads the patient's
    follow-up message (no health detail in the notification title)."""
    live = (
        Encounter.objects.filter(escalated_from_id=case.encounter_id, clinician__isnull=False)
        .select_related("clinician")
        .order_by("-created_at")
        .first()
    )
    if live is not None and live.clinician is not None:
        notify_user(
            live.clinician,
            kind="case",
            title="A patient wrote after their visit",
            url=f"/staff/cases/{case.pk}/review/",
        )


# --- Clinician: review -------------------------------------------------------------------------


def check_reviewer(clinician: User, case: Case, allowed: frozenset[str]) -> None:
    if clinician.role != Role.CLINICIAN:
        raise ActionRefused("forbidden", "Only clinicians review cases.", status=403)
    if case.status not in allowed:
        raise ActionRefused(
            "wrong_status",
            f"This case is {case.get_status_display().lower()}; that is not possible now.",
            status=409,
        )
    if not holds_case(clinician, case):
        raise ActionRefused(
            "not_held", "Claim this case in the queue before acting on it.", status=409
        )


def do_begin_review(clinician: User, case: Case) -> Case:
    """The holder opened the case: it is in review and the encounter is theirs."""
    with transaction.atomic():
        locked = _lock(case)
        if locked.status != CaseStatus.SUBMITTED or not holds_case(clinician, locked):
            return locked
        locked.status = CaseStatus.IN_REVIEW
        locked.save(update_fields=["status"])
        if locked.encounter is not None:
            do_begin_encounter(locked.encounter, clinician=clinician)
        _audit("case.review", clinician, locked)
    return locked


def _note_sections(subjective: str, objective: str, assessment: str, plan: str) -> dict[str, str]:
    return {
        "subjective": subjective,
        "objective": objective,
        "assessment": assessment,
        "plan": plan,
    }


def do_save_review_note(
    clinician: User,
    case: Case,
    *,
    subjective: str = "",
    objective: str = "",
    assessment: str = "",
    plan: str = "",
) -> ClinicalNote:
    check_reviewer(clinician, case, ANSWERABLE)
    assert case.encounter is not None
    return do_save_note_draft(
        clinician, case.encounter, **_note_sections(subjective, objective, assessment, plan)
    )


def _finish_review(clinician: User, case: Case) -> None:
    if case.encounter is not None and case.encounter.status in OPEN_ENCOUNTER:
        do_begin_encounter(case.encounter, clinician=clinician)
        do_end_encounter(case.encounter, by=clinician)
    item = case_work_item(case)
    if item is not None and item.status == WorkItemStatus.CLAIMED:
        do_complete(clinician, item.pk)


def do_answer_case(
    clinician: User,
    case: Case,
    *,
    message: str,
    assessment: str,
    plan: str,
    subjective: str = "",
    objective: str = "",
) -> Case:
    """Answer the patient: write and sign the SOAP note of the async encounter, send the
    message, finish the encounter and complete the work item."""
    message = _clean_text(message, "message")
    for name, value in (("assessment", assessment), ("plan", plan)):
        _clean_text(value, name, limit=20_000)
    with transaction.atomic():
        locked = _lock(case)
        check_reviewer(clinician, locked, ANSWERABLE)
        assert locked.encounter is not None
        note = do_save_note_draft(
            clinician,
            locked.encounter,
            **_note_sections(subjective, objective, assessment, plan),
        )
        do_sign_note(clinician, note)
        CaseMessage.objects.create(
            case=locked, author=clinician, kind=MessageKind.ANSWER, body=message
        )
        now = clock.now()
        locked.status = CaseStatus.ANSWERED
        locked.answered_at = now
        locked.save(update_fields=["status", "answered_at"])
        _finish_review(clinician, locked)
        _audit("case.answer", clinician, locked, note_id=note.pk)
        _emit(locked, "case.answered", clinician, note_id=note.pk)
        notify_patient(locked, "Your clinician answered your online visit")
    return locked


def do_request_info(clinician: User, case: Case, question: str) -> Case:
    """Ask the patient for more; the case is parked (its work item completed) until they
    reply, when it returns to the queue under the reply rule (see the module docstring)."""
    question = _clean_text(question, "question")
    with transaction.atomic():
        locked = _lock(case)
        check_reviewer(clinician, locked, REVIEWABLE)
        CaseMessage.objects.create(
            case=locked, author=clinician, kind=MessageKind.QUESTION, body=question
        )
        locked.status = CaseStatus.NEEDS_INFO
        locked.save(update_fields=["status"])
        if locked.encounter is not None:
            do_begin_encounter(locked.encounter, clinician=clinician)
        item = case_work_item(locked)
        if item is not None:
            do_complete(clinician, item.pk)
        _audit("case.request_info", clinician, locked)
        _emit(locked, "case.needs_info", clinician)
        notify_patient(locked, "Your clinician needs more information")
    return locked


def do_close_case(clinician: User, case: Case, reason: str) -> Case:
    reason = _clean_text(reason, "reason")
    with transaction.atomic():
        locked = _lock(case)
        if locked.status in PARKED:
            # Parked: nobody holds it; a clinician with access to the patient may close it.
            if clinician.role != Role.CLINICIAN:
                raise ActionRefused("forbidden", "Only clinicians close cases.", status=403)
        else:
            check_reviewer(clinician, locked, CLOSABLE)
        CaseMessage.objects.create(
            case=locked, author=clinician, kind=MessageKind.CLOSED, body=reason
        )
        locked.status = CaseStatus.CLOSED
        locked.closed_at = clock.now()
        locked.save(update_fields=["status", "closed_at"])
        _finish_review(clinician, locked)
        _audit("case.close", clinician, locked)
        _emit(locked, "case.closed", clinician)
        notify_patient(locked, "Your online visit was closed")
    return locked


def check_escalation(when: str, mode: str) -> None:
    if when not in (ESCALATE_NOW, ESCALATE_SCHEDULED):
        raise ActionRefused(
            "invalid_when", "Choose a live visit now or a scheduled visit.", field="when"
        )
    if when == ESCALATE_NOW and mode not in VisitMode.values:
        raise ActionRefused(
            "invalid_mode",
            "A live visit now is a video, audio or chat visit; "
            "offer scheduled times for a facilitated visit.",
            field="mode",
            status=422,
        )


def _escalation_message(when: str, mode: str) -> str:
    kind = EncounterMode(mode).label.lower()
    if when == ESCALATE_NOW:
        return (
            f"Your clinician would like to see you now in a {kind}. "
            "Select “Join your visit” to go to the waiting room."
        )
    return (
        f"Your clinician would like to see you in a {kind}. "
        "Select “Book your visit” to choose a time with them or with another clinician."
    )


def escalatable_statuses(case: Case) -> frozenset[str]:
    """A case in review escalates; so does an emergency red-flag case nobody has seen live
    yet (it is "escalated" to emergency care on submit, and the clinician who follows up
    may need to see the patient now)."""
    if emergency_awaits_live_visit(case):
        return REVIEWABLE | {CaseStatus.ESCALATED}
    return REVIEWABLE


def do_escalate_case(
    clinician: User, case: Case, *, mode: str, reason: str, when: str = ESCALATE_SCHEDULED
) -> Case:
    """The clinician wants to see the patient live, in the same episode.
    `now`: an on-demand visit opens at once with this clinician (its encounter planned until
    they admit the patient, escalated from the async one) and the patient is called to it.
    `scheduled`: the patient is offered times with this clinician or any eligible one; the
    booking links the appointment to the escalation (carepath.scheduling)."""
    reason = _clean_text(reason, "reason", limit=2_000)
    check_escalation(when, mode)
    with transaction.atomic():
        locked = _lock(case)
        check_reviewer(clinician, locked, escalatable_statuses(locked))
        assert locked.encounter is not None
        do_begin_encounter(locked.encounter, clinician=clinician)
        request = do_request_escalation(clinician, locked.encounter, mode=mode, reason=reason)
        _emit(
            locked,
            "case.escalated",
            clinician,
            via="clinician",
            when=when,
            mode=mode,
            escalation_request_id=request.pk,
        )
        visit = None
        if when == ESCALATE_NOW:
            visit = do_open_escalated_visit(
                request,
                mode=mode,
                by=clinician,
                clinician=clinician,
                reason=f"{locked.service_line.name}: continued from an online visit",
            )
        CaseMessage.objects.create(
            case=locked,
            author=clinician,
            kind=MessageKind.ESCALATED,
            body=_escalation_message(when, mode),
        )
        locked.status = CaseStatus.ESCALATED
        locked.needs_live_visit = True
        locked.save(update_fields=["status", "needs_live_visit"])
        _finish_review(clinician, locked)
        _audit(
            "case.escalate",
            clinician,
            locked,
            escalation_request_id=request.pk,
            mode=mode,
            when=when,
            visit_id=visit.pk if visit else None,
        )
        if visit is not None:
            notify_live_visit(locked.patient, visit, "Your clinician is ready to see you now")
        else:
            notify_patient(
                locked,
                "Your clinician would like to see you live: book your visit",
                url=booking_url(request.pk),
            )
    return locked


def _visit_ended_text(live: Encounter, visit: Visit, by: User) -> str:
    length = duration_words(visit.duration_seconds or 0)
    signed = ClinicalNote.objects.filter(encounter=live, status="signed").exists()
    plan = (
        "Your clinician's plan is in the visit note below."
        if signed
        else "Your clinician's plan will appear below once they sign the visit note."
    )
    return (
        f"Your {EncounterMode(live.mode).label.lower()} with {by.display_name} ended "
        f"({length}). {plan} You can keep writing to your clinician here."
    )


def do_resume_case_after_visit(live: Encounter, visit: Visit, *, by: User) -> Case | None:
    """De-escalation: the live visit a case escalated to has ended, so care continues
    asynchronously in the case (follow-up): the thread records the visit and both sides keep
    writing there. Called by the visit's end, inside its transaction."""
    if live.escalated_from_id is None:
        return None
    case = Case.objects.filter(encounter_id=live.escalated_from_id).first()
    if case is None:
        return None
    with transaction.atomic():
        locked = _lock(case)
        if locked.status != CaseStatus.ESCALATED:
            return locked
        CaseMessage.objects.create(
            case=locked, author=by, kind=MessageKind.VISIT, body=_visit_ended_text(live, visit, by)
        )
        locked.status = CaseStatus.FOLLOW_UP
        locked.needs_live_visit = False
        locked.save(update_fields=["status", "needs_live_visit"])
        _audit("case.follow_up", by, locked, visit_id=visit.pk, live_encounter_id=live.pk)
        notify_patient(locked, "Your visit has ended: follow-up continues in your online visit")
    return locked


def do_message_patient(clinician: User, case: Case, text: str) -> CaseMessage:
    """A clinician with access to the patient writes in the case thread after the live visit
    (follow-up). The caller authorized the case (access_case)."""
    text = _clean_text(text, "text")
    if clinician.role != Role.CLINICIAN:
        raise ActionRefused("forbidden", "Only clinicians write to the patient here.", status=403)
    with transaction.atomic():
        locked = _lock(case)
        if locked.status != CaseStatus.FOLLOW_UP:
            raise ActionRefused(
                "wrong_status", "Messages here continue care after a live visit.", status=409
            )
        message = CaseMessage.objects.create(
            case=locked, author=clinician, kind=MessageKind.MESSAGE, body=text
        )
        _audit("case.message", clinician, locked, message_id=message.pk)
        notify_patient(locked, "Your clinician wrote to you")
    return message


# --- Admin: questionnaires and service lines ---------------------------------------------------

ALLOWED_MODES = frozenset(EncounterMode.values) - {EncounterMode.ECONSULT, EncounterMode.MONITORING}


def do_import_questionnaire(
    admin: User, *, code: str, title: str, definition: Any
) -> Questionnaire:
    """Save a definition as the next version of `code` (or version 1). Nothing is saved when
    check_questionnaire finds a problem: every problem is reported, by path."""
    if admin.role != Role.ADMIN:
        raise ActionRefused("forbidden", "Only administrators edit questionnaires.", status=403)
    code = (code or "").strip()
    if not SLUG.match(code):
        raise ActionRefused(
            "invalid_code", "Use lowercase letters, digits and dashes.", field="code", status=422
        )
    title = _clean_text(title, "title", limit=200)
    errors = check_questionnaire(definition)
    if errors:
        raise QuestionnaireInvalid(errors)
    with transaction.atomic():
        latest = (
            Questionnaire.objects.select_for_update().filter(code=code).order_by("-version").first()
        )
        questionnaire = Questionnaire.objects.create(
            code=code,
            version=(latest.version + 1) if latest else 1,
            title=title,
            definition=definition,
            created_by=admin,
        )
        do_record_audit(
            "questionnaire.import",
            actor=admin,
            object_type="questionnaire",
            object_id=questionnaire.pk,
            detail={"code": code, "version": questionnaire.version},
        )
    return questionnaire


def check_service_line(
    *,
    code: str,
    name: str,
    questionnaire: Questionnaire | None,
    sla_minutes: int,
    specialty: Specialty | None,
    allowed_modes: Any,
    red_flag_rules: Any,
) -> list[FieldError]:
    errors: list[FieldError] = []
    if not SLUG.match(code or ""):
        errors.append({"field": "code", "message": "Use lowercase letters, digits and dashes."})
    if not (name or "").strip() or len(name) > 120:
        errors.append({"field": "name", "message": "Give a name (at most 120 characters)."})
    if questionnaire is None:
        errors.append({"field": "questionnaire", "message": "Choose a questionnaire."})
    if specialty is None:
        errors.append({"field": "specialty", "message": "Choose the specialty that answers."})
    if not isinstance(sla_minutes, int) or not 1 <= sla_minutes <= 14 * 24 * 60:
        errors.append({"field": "sla_minutes", "message": "The SLA is 1 minute to 14 days."})
    if (
        not isinstance(allowed_modes, list)
        or not allowed_modes
        or any(mode not in ALLOWED_MODES for mode in allowed_modes)
    ):
        errors.append(
            {
                "field": "allowed_modes",
                "message": "Choose at least one of: " + ", ".join(sorted(ALLOWED_MODES)) + ".",
            }
        )
    if questionnaire is not None:
        errors.extend(check_red_flag_rules(red_flag_rules, questionnaire.definition))
    return errors


def do_save_service_line(
    admin: User,
    service_line: ServiceLine | None,
    *,
    code: str,
    name: str,
    description: str,
    questionnaire: Questionnaire | None,
    sla_minutes: int,
    specialty: Specialty | None,
    allowed_modes: list[str],
    red_flag_rules: Any,
    active: bool,
) -> ServiceLine:
    """Create or update a service line; refused as a whole with every problem listed."""
    if admin.role != Role.ADMIN:
        raise ActionRefused("forbidden", "Only administrators edit service lines.", status=403)
    errors = check_service_line(
        code=code,
        name=name,
        questionnaire=questionnaire,
        sla_minutes=sla_minutes,
        specialty=specialty,
        allowed_modes=allowed_modes,
        red_flag_rules=red_flag_rules,
    )
    clash = ServiceLine.objects.filter(code=code)
    if service_line is not None:
        clash = clash.exclude(pk=service_line.pk)
    if clash.exists():
        errors.append({"field": "code", "message": "Another service line has this code."})
    if errors:
        raise FieldsRefused("invalid_service_line", "The service line has errors.", errors)
    assert questionnaire is not None
    assert specialty is not None
    with transaction.atomic():
        line = service_line or ServiceLine()
        line.code = code
        line.name = name.strip()
        line.description = (description or "").strip()[:2000]
        line.questionnaire = questionnaire
        line.sla_minutes = sla_minutes
        line.specialty = specialty
        line.allowed_modes = allowed_modes
        line.red_flag_rules = red_flag_rules
        line.active = active
        line.save()
        do_record_audit(
            "service_line.save",
            actor=admin,
            object_type="service_line",
            object_id=line.pk,
            detail={"code": code, "questionnaire_id": questionnaire.pk, "active": active},
        )
    return line
